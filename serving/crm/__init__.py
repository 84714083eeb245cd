"""What the CRM team acts on: at-risk, coupon and activation lists, and what a campaign bought."""
