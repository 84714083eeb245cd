"""The MLflow pyfunc model, logged *from code* (MLflow models-from-code): nothing is pickled.

MLflow loads this file, which declares the model with ``set_model``; the
fitted classifier comes from the ``model`` artifact directory (booster text
plus JSON, see :mod:`training.estimator`). Input: the frame ``churn features``
writes (``user_id`` and ``as_of`` are ignored; categorical columns may be
strings). Output: the probability of the label (churn, or first purchase).
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

MODEL_ARTIFACT = "model"


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from training.estimator import ChurnClassifier

        self.model = ChurnClassifier.load(context.artifacts[MODEL_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.model.predict_proba(model_input)[:, 1]


mlflow.models.set_model(ChurnPyfunc())
