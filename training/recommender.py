"""Recommended categories for new users: what they are likely to buy first.

:class:`CategoryRecommender` learns P(first purchase category | what the user browsed and
carted, their channel, region, city tier and signup season) with a multinomial logistic
regression (scikit-learn). A user who browsed nothing still gets the categories that
convert best for their profile. With the platform's handful of categories a matrix
factorisation library has nothing to factorise: the model is the co-occurrence of browsed
and first-bought categories, conditioned on the profile, fitted jointly.

Baselines a data scientist would reach for: :class:`PopularityRecommender` (the most
common first categories, the same for everyone) and :class:`MostBrowsedRecommender`
(the user's most viewed and carted categories, then the popular ones).

Training rows come from :func:`recommendation_snapshots`: at each date, the new users
without a purchase (the activation population) with their browsing up to that date,
labelled with the category of a first purchase in the next ``horizon_days``; users who do
not buy in that window carry no label and are left out. Evaluation is out of time: test
dates lie after every training label window (:func:`hit_rates`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from features.asof import as_of_date
from features.catalog import AS_OF, USER_ID
from features.errors import ConfigError
from features.first_purchase import CARTS, EVENTS_TOTAL, PROFILE, VIEWS, browsing_profile, first_categories
from features.labels import ACTIVATION_SIGNUP_DAYS, activation_population

DEFAULT_K = 3
STRENGTHS = (20.0, 200.0, 2000.0, 1e6)
DEFAULT_HORIZON_DAYS = 30
DEPTHS = ((0, 0, "no browsing"), (1, 5, "1-5 events"), (6, None, "6+ events"))


def _categories(X: pd.DataFrame) -> list[str]:
    return sorted({c.removeprefix(VIEWS) for c in X.columns if c.startswith(VIEWS)} | {c.removeprefix(CARTS) for c in X.columns if c.startswith(CARTS)})


def _share(counts: np.ndarray) -> np.ndarray:
    """Each row's counts as shares of its total (0 for a row without any)."""
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _counts(X: pd.DataFrame, categories: Sequence[str], prefix: str) -> np.ndarray:
    """The ``prefix<category>`` columns of ``X`` as a matrix (0 for a category without a column)."""
    return np.column_stack([X[prefix + c].to_numpy(dtype=float) if prefix + c in X.columns else np.zeros(len(X)) for c in categories])


def _text(X: pd.DataFrame, column: str) -> pd.Series:
    """A profile column as text, missing (or absent) as ``unknown``."""
    if column not in X.columns:
        return pd.Series("unknown", index=X.index)
    return X[column].astype("object").where(X[column].notna(), "unknown").astype(str)


def _ranked(scores: np.ndarray, categories: Sequence[str], k: int, index) -> pd.DataFrame:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    names = np.asarray(categories, dtype=object)[order]
    return pd.DataFrame(names, columns=[f"category_{i + 1}" for i in range(names.shape[1])], index=index)


class CategoryRecommender(BaseEstimator):
    """Top-k first-purchase categories per new user; scikit-learn style.

    X: a frame as :func:`features.first_purchase.browsing_profile` returns it (profile columns,
    ``views_<c>``, ``carts_<c>``, ``events_total``); y: the first category bought.
    The ranking model is a conditional logit: one row per (user, category) with the category's profile
    prior, the user's views and carts of it (counts and shares) and whether it is their most browsed one,
    and one shared weight per column (six weights in all), so it needs few users to learn.
    C: inverse regularisation strength of that logistic regression; prior_strength: pseudo-users that
    shrink each profile segment towards the overall popularity (``"auto"``: chosen out of time within the
    training rows, see :meth:`_chosen_strength`; 1e6 makes the prior the plain popularity).
    Learned: ``categories_`` (the classes), ``popularity_``, ``profile_counts_``, ``prior_strength_``, ``model_``.
    """

    def __init__(self, *, k: int = DEFAULT_K, C: float = 1.0, prior_strength: float | str = "auto") -> None:
        self.k = k
        self.C = C
        self.prior_strength = prior_strength

    def _pairs(self, X: pd.DataFrame, prior: np.ndarray) -> np.ndarray:
        """One row per (user, category), user-major: the features the ranking model weighs for that category."""
        missing = [c for c in (*PROFILE, EVENTS_TOTAL) if c not in X.columns]
        if missing:
            raise ConfigError(f"recommender input lacks column {', '.join(missing)}")
        views, carts = _counts(X, self.categories_, VIEWS), _counts(X, self.categories_, CARTS)
        view_share, cart_share = _share(views), _share(carts)
        top = (views + 3.0 * carts) == (views + 3.0 * carts).max(axis=1, keepdims=True)
        top &= (views + carts).sum(axis=1, keepdims=True) > 0
        columns = [np.log(prior), np.log1p(views), np.log1p(carts), view_share, cart_share, top.astype(float)]
        return np.stack([c.reshape(-1) for c in columns], axis=1)

    def fit(self, X: pd.DataFrame, y) -> CategoryRecommender:
        y = pd.Series(y, index=X.index).astype(str)
        if len(X) == 0:
            raise ConfigError("recommender: no new user with a first purchase to learn from")
        self.prior_strength_ = self._chosen_strength(X, y) if self.prior_strength == "auto" else float(self.prior_strength)
        self.categories_ = sorted(set(y) | set(_categories(X)))
        counts = y.value_counts().reindex(self.categories_, fill_value=0)
        self.popularity_ = (counts + 1.0) / (counts.sum() + len(self.categories_))
        self.profile_counts_ = {
            c: pd.crosstab(_text(X, c), y).reindex(columns=self.categories_, fill_value=0) for c in PROFILE
        }
        pairs = self._pairs(X, self.profile_prior(X))
        chosen = (np.asarray(self.categories_, dtype=object)[None, :] == y.to_numpy()[:, None]).reshape(-1)
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000)).fit(pairs, chosen)
        return self

    def _chosen_strength(self, X: pd.DataFrame, y: pd.Series) -> float:
        """``prior_strength="auto"``: the candidate whose profile prior gives the highest mean log-probability to
        the category bought, on the latest quarter of the training dates (``as_of`` column) among users who browsed
        nothing, fitted on the earlier dates (a proper score: hit rates at k tie too often); near-ties go to the
        stronger shrinkage. Without dates or enough such users, the middle candidate."""
        if AS_OF not in X.columns or X[AS_OF].nunique() < 4:
            return STRENGTHS[len(STRENGTHS) // 2]
        dates = np.sort(X[AS_OF].unique())
        later = (X[AS_OF] >= dates[int(len(dates) * 0.75)]).to_numpy()
        quiet = later & (X[EVENTS_TOTAL].to_numpy(dtype=float) == 0)
        if quiet.sum() < 50:
            return STRENGTHS[len(STRENGTHS) // 2]
        best, best_score = STRENGTHS[-1], -np.inf
        for strength in reversed(STRENGTHS):
            trial = CategoryRecommender(k=self.k, C=self.C, prior_strength=strength).fit(X[~later], y[~later])
            prior = pd.DataFrame(trial.profile_prior(X[quiet]), columns=trial.categories_)
            chosen = prior.reindex(columns=sorted(set(trial.categories_) | set(y[quiet])), fill_value=1e-6)
            picked = chosen.to_numpy()[np.arange(len(chosen)), chosen.columns.get_indexer(y[quiet])]
            score = float(np.log(np.maximum(picked, 1e-6)).mean())
            if score > best_score + 1e-4:
                best, best_score = strength, score
        return best

    def profile_prior(self, X: pd.DataFrame) -> np.ndarray:
        """P(first category | profile): naive Bayes over the profile columns, each segment's frequencies shrunk
        towards the overall popularity by ``prior_strength`` pseudo-users, so a segment that does not differ
        from the rest ranks as the rest does. Users who browsed nothing are ranked by this alone. (Learning it
        from those users only was measured worse out of time on the simulator: fewer users, noisier.)"""
        check_is_fitted(self, "popularity_")
        base = np.log(self.popularity_.to_numpy())
        score = np.tile(base, (len(X), 1))
        for c, table in self.profile_counts_.items():
            shrunk = (table.to_numpy() + self.prior_strength_ * self.popularity_.to_numpy()) / (
                table.sum(axis=1).to_numpy()[:, None] + self.prior_strength_
            )
            lookup = pd.DataFrame(np.log(shrunk) - base, index=table.index)
            score += lookup.reindex(_text(X, c).to_numpy()).fillna(0.0).to_numpy()
        score = np.exp(score - score.max(axis=1, keepdims=True))
        return score / score.sum(axis=1, keepdims=True)

    def predict_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """P(first purchase in each category), one column per category of ``categories_`` (rows sum to 1)."""
        check_is_fitted(self, "model_")
        prior = self.profile_prior(X)
        score = self.model_.decision_function(self._pairs(X, prior)).reshape(len(X), len(self.categories_))
        score = np.exp(score - score.max(axis=1, keepdims=True))
        return pd.DataFrame(score / score.sum(axis=1, keepdims=True), columns=self.categories_, index=X.index)

    def recommend(self, X: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        """Columns ``category_1`` .. ``category_k``: the most likely first categories, best first, for every row."""
        proba = self.predict_proba(X)
        return _ranked(proba.to_numpy(), self.categories_, k or self.k, X.index)


class PopularityRecommender(BaseEstimator):
    """Baseline: the ``k`` most common first categories of the training users, for everyone."""

    def __init__(self, *, k: int = DEFAULT_K) -> None:
        self.k = k

    def fit(self, X: pd.DataFrame, y) -> PopularityRecommender:
        counts = pd.Series(y).astype(str).value_counts()
        self.popularity_ = counts.sort_index().sort_values(ascending=False, kind="stable") / counts.sum()
        return self

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "popularity_")
        return np.tile(self.popularity_.to_numpy(), (len(X), 1))

    def recommend(self, X: pd.DataFrame, k: int | None = None) -> pd.DataFrame:
        return _ranked(self.scores(X), list(self.popularity_.index), k or self.k, X.index)


class MostBrowsedRecommender(PopularityRecommender):
    """Baseline: the user's most viewed and carted categories (a cart counts 3 views), then the popular ones."""

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        popular = super().scores(X)
        names = list(self.popularity_.index)
        browsed = _counts(X, names, VIEWS) + 3.0 * _counts(X, names, CARTS)
        return browsed + popular  # popularity (< 1) only breaks ties and fills users who browsed nothing


def recommendation_snapshots(
    tables: Mapping, dates: Sequence[dt.date], horizon_days: int = DEFAULT_HORIZON_DAYS, signup_days: int = ACTIVATION_SIGNUP_DAYS
) -> pd.DataFrame:
    """Stacked rows (``as_of``, ``user_id``, browsing profile, ``first_category``) of new users who bought within the horizon.

    At each date the population is the activation population (signed up in the ``signup_days`` before it,
    no purchase yet); only rows before each date feed its features.
    """
    frames = []
    for day in dates:
        population = activation_population(tables, day, signup_days)
        profile = browsing_profile(tables, day, population)
        labels = first_categories(tables, day, horizon_days)
        rows = profile.merge(labels, on=USER_ID, how="inner")
        rows.insert(0, AS_OF, as_of_date(day))
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out.fillna({c: 0 for c in out.columns if c.startswith((VIEWS, CARTS))})


def depth(events: pd.Series) -> pd.Series:
    """The browsing-depth bucket of each user (:data:`DEPTHS`)."""
    labels = pd.Series("", index=events.index, dtype=object)
    for low, high, name in DEPTHS:
        inside = (events >= low) if high is None else ((events >= low) & (events <= high))
        labels[inside] = name
    return labels


def hit_rates(recommended: Mapping[str, pd.DataFrame], actual: pd.Series, events: pd.Series) -> pd.DataFrame:
    """Hit rate (the first category bought is among the recommended ones) per recommender, overall and by browsing depth.

    recommended: name -> frame of ``category_1..k`` (same index as ``actual``). Returns one row per
    recommender with ``all`` and one column per :data:`DEPTHS` bucket, and a row ``users`` with the counts.
    """
    buckets = depth(events)
    rows = {}
    for name, frame in recommended.items():
        hit = frame.eq(actual.astype(str), axis=0).any(axis=1)
        rows[name] = {"all": hit.mean(), **{b: hit[buckets == b].mean() for _, _, b in DEPTHS}}
    rows["users"] = {"all": len(actual), **{b: int((buckets == b).sum()) for _, _, b in DEPTHS}}
    return pd.DataFrame(rows).T[["all", *(b for _, _, b in DEPTHS)]]

