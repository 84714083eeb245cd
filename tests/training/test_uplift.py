"""The uplift estimator on hand-built campaigns with known effects, and the Qini metrics by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from training.uplift import LEARNERS, UpliftClassifier, UpliftInputError, qini_area, qini_curve, uplift_at_top


def campaign(rng: np.random.Generator, n: int, arms: tuple[str, ...] = ("coupon",)):
    """A randomized campaign with known effects on P(retained).

    Price-sensitive users (high past redemption) are persuaded by a coupon; users who complained and
    never redeem are sleeping dogs (a coupon lowers their retention); a callback helps after a complaint.
    Returns X, the arm (0 = control, i = arms[i - 1]), the outcome, the true effect per arm and the segment.
    """
    X = pd.DataFrame(
        {
            "redemption_rate": rng.beta(1.0, 3.0, n),
            "complaints": rng.poisson(0.4, n).astype(float),
            "days_since_last_order": rng.exponential(30.0, n),
            "noise": rng.normal(0.0, 1.0, n),
        }
    )
    base = 1.0 / (1.0 + np.exp(-(0.6 - 0.03 * X["days_since_last_order"] - 0.4 * X["complaints"])))
    persuadable = (X["redemption_rate"] > 0.3).to_numpy()
    sleeping_dog = ((X["complaints"] > 0) & (X["redemption_rate"] < 0.15)).to_numpy()
    effect_of = {
        "coupon": np.where(persuadable, 0.25, 0.0) - np.where(sleeping_dog, 0.15, 0.0),
        "callback": np.where(X["complaints"] > 0, 0.2, 0.0),
    }
    arm = rng.integers(0, len(arms) + 1, n)
    p = base.to_numpy().copy()
    true = np.zeros((n, len(arms)))
    for i, name in enumerate(arms, start=1):
        treated_p = np.clip(base + effect_of[name], 0.0, 1.0)
        true[:, i - 1] = treated_p - base
        p = np.where(arm == i, treated_p, p)
    y = (rng.random(n) < p).astype(int)
    segment = np.select([sleeping_dog, persuadable], ["sleeping_dog", "persuadable"], "other")
    return X, arm, y, true, segment


@pytest.fixture(scope="module")
def one_arm():
    rng = np.random.default_rng(3)
    return campaign(rng, 12_000), campaign(rng, 12_000)


@pytest.mark.parametrize("learner", LEARNERS)
def test_each_learner_finds_persuadables_and_sleeping_dogs(one_arm, learner):
    (X, arm, y, _, _), (Xv, _, _, true, segment) = one_arm
    effect = UpliftClassifier(learner=learner).fit(X, arm, y).predict(Xv)
    assert effect.shape == (len(Xv),)
    by = pd.Series(effect).groupby(segment).mean()
    assert by["persuadable"] > 0.12 and by["sleeping_dog"] < -0.04 and abs(by["other"]) < 0.06, by
    assert np.corrcoef(effect, true[:, 0])[0, 1] > 0.6
    # Targeting the users with a clearly positive estimated effect leaves (almost all) sleeping dogs out,
    # and the top 30 % by estimated effect are mostly persuadables (35 % of all users; random: 35 %).
    chosen = effect > 0.05
    assert (segment[chosen] == "sleeping_dog").mean() < 0.03
    top = np.argsort(-effect, kind="stable")[: int(0.3 * len(effect))]
    assert (segment[top] == "persuadable").mean() > 0.75


def test_several_arms_with_text_labels_give_one_column_each():
    rng = np.random.default_rng(8)
    X, arm, y, _, _ = campaign(rng, 15_000, ("coupon", "callback"))
    labels = np.array(["control", "coupon", "callback"])[arm]
    model = UpliftClassifier(learner="t").fit(X, labels, y)
    assert model.arms_ == ["callback", "coupon"] and model.control_ == "control"
    Xv, _, _, true, _ = campaign(rng, 6_000, ("coupon", "callback"))
    effects = model.predict(Xv)
    assert effects.shape == (6_000, 2)
    complained = Xv["complaints"].to_numpy() > 0
    # The callback helps after a complaint, not otherwise; the coupon column is the coupon's.
    assert effects[complained, 0].mean() > 0.1 > effects[~complained, 0].mean() + 0.05
    assert np.corrcoef(effects[:, 1], true[:, 0])[0, 1] > 0.5


def test_numpy_input_and_save_load_give_the_same_effects(one_arm, tmp_path):
    (X, arm, y, _, _), (Xv, *_) = one_arm
    from_frame = UpliftClassifier(learner="x", n_estimators=50).fit(X, arm, y)
    from_array = UpliftClassifier(learner="x", n_estimators=50).fit(X.to_numpy(), arm, y)
    assert np.allclose(from_frame.predict(Xv), from_array.predict(Xv.to_numpy()))
    loaded = UpliftClassifier.load(from_frame.save(tmp_path / "m"))
    assert np.array_equal(loaded.predict(Xv), from_frame.predict(Xv))
    assert loaded.get_params() == from_frame.get_params()


def test_category_columns_are_learnt_and_unseen_levels_are_missing(one_arm):
    (X, arm, y, _, _), _ = one_arm
    X = X.assign(tier=pd.Categorical(np.where(X["noise"] > 0, "gold", "silver")))
    model = UpliftClassifier(learner="t", n_estimators=30).fit(X, arm, y)
    scored = X.head(5).assign(tier=pd.Categorical(["platinum", "gold", "silver", "gold", "silver"]))
    assert np.isfinite(model.predict(scored)).all()


def test_bad_input_is_refused_with_the_field_named(one_arm):
    (X, arm, y, _, _), _ = one_arm
    with pytest.raises(NotFittedError):
        UpliftClassifier().predict(X)
    with pytest.raises(UpliftInputError, match="learner 'z' is not one of t, s, x, transformed"):
        UpliftClassifier(learner="z").fit(X, arm, y)
    with pytest.raises(UpliftInputError, match="control 'control' is not among"):
        UpliftClassifier().fit(X, np.where(arm == 0, "none", "coupon"), y)
    with pytest.raises(UpliftInputError, match="treatment 1 has 10 rows"):
        UpliftClassifier().fit(X.head(200), np.r_[np.ones(10), np.zeros(190)].astype(int), y[:200])
    with pytest.raises(UpliftInputError, match="y must be 0 or 1"):
        UpliftClassifier().fit(X, arm, y * 2)
    with pytest.raises(UpliftInputError, match="only the control"):
        UpliftClassifier().fit(X, np.zeros(len(X), dtype=int), y)
    with pytest.raises(UpliftInputError, match="X column complaints holds infinite"):
        UpliftClassifier().fit(X.assign(complaints=np.inf), arm, y)
    model = UpliftClassifier(n_estimators=10).fit(X, arm, y)
    with pytest.raises(UpliftInputError, match="X lacks column noise"):
        model.predict(X.drop(columns="noise"))


def test_qini_curve_and_uplift_at_top_by_hand():
    y = np.array([1, 0, 1, 0, 1, 0])
    treated = np.array([True, True, False, False, True, False])
    score = np.array([6, 5, 4, 3, 2, 1])
    curve = qini_curve(y, treated, score)
    # Y_t - Y_c N_t / N_c after each row, divided by n = 6 (no control yet: Y_t alone).
    assert curve["qini"].tolist() == pytest.approx([0, 1 / 6, 1 / 6, -1 / 6, 0, 0.5 / 6, 1 / 6])
    assert curve["uplift"].iloc[-1] == pytest.approx(2 / 3 - 1 / 3)
    assert uplift_at_top(y, treated, score, 4 / 6) == pytest.approx(1 / 2 - 1 / 2)
    assert uplift_at_top(y, treated, score, 0.5) == pytest.approx(1 / 2 - 1 / 1)


def test_qini_area_ranks_truth_above_random_above_reversed(one_arm):
    _, (Xv, arm, y, true, _) = one_arm
    treated = arm == 1
    rng = np.random.default_rng(0)
    best = qini_area(y, treated, true[:, 0])
    random = np.mean([qini_area(y, treated, rng.random(len(y))) for _ in range(5)])
    worst = qini_area(y, treated, -true[:, 0])
    assert best > 0.01 and abs(random) < best / 4 and worst < -0.01
