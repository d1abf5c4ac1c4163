"""Time-series forecasting with sequence regressors: sliding windows and a forecaster.

:func:`make_windows` turns one or many series into supervised windows ``(X, y)``; each window
of ``window`` past steps is a short sequence, so any regressor of sequences (by default
:class:`~skrnn.RNNRegressor`) learns to forecast from it. :class:`RNNForecaster` wraps that
into ``fit(y)`` / ``predict(steps)``, with the "direct" and "recursive" multi-step strategies.

.. rubric:: Series

One series is a 1-D array or list of numbers (T,), a 2-D array (T, n_vars), a pandas Series
or a DataFrame (one column per variable); a list or tuple whose items are such series holds
MANY series (a list of numbers is one series). Series hold finite numbers only. Windows are
cut from each series separately and never span two series.
"""

from collections import namedtuple
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._regressor import RNNRegressor
from .sequences import _frame_values, _is_pandas, _numeric

__all__ = ["make_windows", "RNNForecaster"]

# values: (T, n_vars) float; kind: "array1d", "array2d", "series" or "frame";
# index: the pandas index or None; labels: the Series name or DataFrame columns, else None
_Series = namedtuple("_Series", "values kind index labels")


def make_windows(series, window, horizon=1, stride=1, exog=None):
    """Cut one or many series into supervised windows: past steps ``X``, next steps ``y``.

    A window starting at step ``s`` holds steps ``s .. s + window - 1`` of the series as
    ``X`` and the target values of the following ``horizon`` steps as ``y``. The last window
    ends ``horizon`` steps before the end of the series, and windows start every ``stride``
    steps backwards from it (so the most recent steps are always used). With many series,
    the windows of each series follow those of the previous one; no window spans two series.

    Parameters
    ----------
    series : array-like, Series, DataFrame or list of them
        One series: a 1-D array (T,), 2-D array (T, n_vars), pandas Series or DataFrame. A
        list (tuple) of such series is many series; all must have the same number of
        variables. All variables not named in ``exog`` are targets.
    window : int >= 1
        Past steps in each window.
    horizon : int >= 1, default=1
        Future steps to predict from each window.
    stride : int >= 1, default=1
        Steps between the starts of consecutive windows.
    exog : array-like, DataFrame, str, list of str or None, default=None
        Exogenous variables, features of ``X`` but never targets. Either values aligned with
        the series (same number of steps: an array (T,) or (T, n_exog), a Series or a
        DataFrame; for many series a list with one per series), or the names of columns of
        the DataFrame(s) given as ``series``.

    Returns
    -------
    X : ndarray of shape (n_windows, window, n_targets + n_exog)
        Features at each step: the target variables first (in column order), then the
        exogenous variables, all at the same step.
    y : ndarray of shape (n_windows, horizon * n_targets)
        Step-major: ``y[k, h * n_targets + j]`` is target ``j`` at ``h + 1`` steps after the
        end of window ``k``. With one target this is (n_windows, horizon).

    Raises
    ------
    ValueError
        window, horizon or stride below 1, a series shorter than ``window + horizon``, NaN or
        infinity in a series, exogenous values of another length than their series, unknown
        exog column names, or no target variable left.
    TypeError
        Input that is not numbers, or exog column names without DataFrames.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = make_windows(np.arange(6.0), window=3, horizon=2)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.]])
    >>> y
    array([[3., 4.],
           [4., 5.]])
    >>> X, y = make_windows([np.arange(4.0), 10 + np.arange(4.0)], window=2)
    >>> X[:, :, 0], y.ravel()
    (array([[ 0.,  1.],
           [ 1.,  2.],
           [10., 11.],
           [11., 12.]]), array([ 2.,  3., 12., 13.]))
    >>> X, y = make_windows(np.arange(4.0), window=2, exog=-np.arange(4.0))
    >>> X[0]
    array([[ 0., -0.],
           [ 1., -1.]])
    """
    for name, value in (("window", window), ("horizon", horizon), ("stride", stride)):
        _check_positive_int(value, name)
    targets, many = _series_list(series, "series")
    exogs = _exog_list(exog, targets, many, "exog")
    if isinstance(exog, str) or _is_names(exog):
        targets = [t._replace(values=v) for t, v in zip(targets, _drop_names(targets, exog))]
    parts = [_windows(_join(t.values, x), t.values.shape[1], window, horizon, stride,
                      _where(i, many, "series"))
             for i, (t, x) in enumerate(zip(targets, exogs))]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class RNNForecaster(BaseEstimator):
    """Forecast one or many time series with a sequence regressor on sliding windows.

    ``fit`` cuts the series into windows of ``window`` steps (:func:`make_windows`) and fits
    a clone of ``estimator`` on them; ``predict`` forecasts the steps after the end of each
    training series (or of the series given as ``y``).

    - ``strategy="direct"``: the regressor predicts all ``horizon`` steps at once;
      ``predict`` gives up to ``horizon`` steps.
    - ``strategy="recursive"``: the regressor predicts one step; ``predict`` applies it
      step after step, feeding each prediction back as the newest step of the window, so it
      gives any number of steps.

    Scaling (``scale=True``): every variable of every series is divided by its mean absolute
    value over that whole series (1 where that is 0), computed on the series given to
    ``fit``, or on the history given to ``predict`` as ``y``. Windows are built from the
    scaled series and predictions are multiplied back, so series of very different levels
    (tens, thousands) share one model. The scales of the training series are in ``scales_``.
    This scales the inputs as well as the targets, but leaves the targets near 1 rather than
    spread around 0: a series varying by a few percent around its level gives targets of
    standard deviation a few hundredths. An :class:`~skrnn.RNNRegressor` (the default
    estimator) standardises its targets besides (its ``scale_target``, on by default); to
    compare without, pass ``RNNRegressor(batch_size=32, scale_target=False)``.

    Exogenous variables (``X`` in ``fit``): values known in advance, such as calendar or
    price plans. In each window, the step at time ``t`` carries the targets at ``t`` and the
    exogenous values at ``t + lead``, where ``lead`` is the number of steps the regressor
    predicts (``horizon`` for "direct", 1 for "recursive"): the window thus ends with the
    exogenous values of the steps it predicts, and ``predict`` needs them as its ``X``.

    Parameters
    ----------
    estimator : regressor or None, default=None
        A regressor accepting 3-D arrays (n_windows, window, n_features) and targets of shape
        (n_windows,) or (n_windows, n_outputs); cloned by ``fit``. None means
        ``RNNRegressor(batch_size=32)``: a forecasting set of a few hundred windows would
        otherwise make one gradient step per epoch.
    window : int >= 1, default=12
        Past steps each forecast is made from.
    horizon : int >= 1, default=1
        Steps the "direct" strategy predicts at once, and the default number of steps of
        ``predict``.
    strategy : {"direct", "recursive"}, default="direct"
        Multi-step strategy, as described above: the regressor predicts all ``horizon``
        steps at once ("direct"), or one step that is fed back as input ("recursive").
    stride : int >= 1, default=1
        Steps between the starts of consecutive training windows.
    scale : bool, default=True
        Divide each series by its mean absolute value, as described above.

    Attributes
    ----------
    estimator_ : regressor
        The fitted clone of ``estimator``.
    n_series_ : int
        Number of training series.
    n_targets_ : int
        Target variables per series.
    n_exog_ : int
        Exogenous variables per series (0 without ``X``).
    scales_ : list of ndarray of shape (`n_targets_` + `n_exog_`,)
        Scale of each variable of each training series (ones with ``scale=False``).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skrnn import RNNForecaster, RNNRegressor
    >>> t = np.arange(48)
    >>> y = pd.Series(100 + 10 * np.sin(2 * np.pi * t / 12), name="sales",
    ...               index=pd.date_range("2020-01-01", periods=48, freq="MS"))
    >>> reg = RNNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    >>> forecaster = RNNForecaster(reg, window=12, horizon=3).fit(y)
    >>> forecast = forecaster.predict()
    >>> forecast.index.strftime("%Y-%m").tolist(), forecast.index.freqstr
    (['2024-01', '2024-02', '2024-03'], 'MS')
    >>> forecast.name
    'sales'
    >>> rec = RNNForecaster(reg, window=12, strategy="recursive").fit(y.to_numpy())
    >>> rec.predict(steps=5).shape
    (5,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "window": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"direct", "recursive"})],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
    }

    def __init__(self, estimator=None, window=12, horizon=1, strategy="direct", stride=1,
                 scale=True):
        self.estimator = estimator
        self.window = window
        self.horizon = horizon
        self.strategy = strategy
        self.stride = stride
        self.scale = scale

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, y, X=None):
        """Fit the regressor on the windows of one or many series.

        Parameters
        ----------
        y : array-like, Series, DataFrame or list of them
            The target series (see the module docstring), each at least ``window + horizon``
            steps long for "direct", ``window + 1`` for "recursive".
        X : array-like, Series, DataFrame or list of them, default=None
            Exogenous series, one per target series, with the same number of steps.

        Returns
        -------
        RNNForecaster
            This forecaster, fitted.

        Raises
        ------
        ValueError
            If a series is too short, holds NaN, infinity or strings, or has another number
            of variables than the first; if ``X`` does not have one series of the same
            length per target series; or if a pandas series has a DatetimeIndex whose
            frequency is neither set nor inferable.
        TypeError
            If a series is not an array-like or pandas object of numbers (None, a string, a
            dict), or if ``X`` holds column names.
        """
        series, self._many = _series_list(y, "y")
        exogs = _exog_list(X, series, self._many, "X", allow_names=False)
        self.n_series_, self.n_targets_ = len(series), series[0].values.shape[1]
        self.n_exog_ = 0 if exogs[0] is None else exogs[0].shape[1]
        for s in series:
            if s.kind in ("series", "frame"):
                _future_index(s.index, 1)  # fails now if no frequency can be found
        self.scales_ = [self._scale_of(s.values, x) for s, x in zip(series, exogs)]
        parts = [self._training_windows(s.values, x, scale, _where(i, self._many, "y"))
                 for i, (s, x, scale) in enumerate(zip(series, exogs, self.scales_))]
        Xw, Yw = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        estimator = RNNRegressor(batch_size=32) if self.estimator is None else self.estimator
        self.estimator_ = clone(estimator).fit(Xw, Yw if Yw.shape[1] > 1 else Yw.ravel())
        self._histories = [self._history(s, x, scale)
                           for s, x, scale in zip(series, exogs, self.scales_)]
        return self

    def predict(self, steps=None, X=None, y=None):
        """Forecast the next ``steps`` steps of each series.

        Parameters
        ----------
        steps : int >= 1, default=None
            Steps to forecast; None means ``horizon``. "direct" allows at most ``horizon``.
        X : array-like, Series, DataFrame or list of them, default=None
            Required when fit had exogenous series, one per forecast series: the exogenous
            values of the future steps ("recursive": ``steps`` rows; "direct": ``horizon``
            rows). With ``y``, the values over ``y``'s steps followed by the future ones.
        y : array-like, Series, DataFrame or list of them, default=None
            Forecast from the end of these series (at least ``window`` steps each) instead of
            from the end of the training series.

        Returns
        -------
        ndarray, Series, DataFrame or list of them
            For each series, in its own form: (steps,) for a 1-D array, (steps, n_targets)
            for a 2-D array, a Series (DataFrame) with the future index and the series name
            (columns) for pandas. A list with one forecast per series when fit (or ``y``)
            had many series.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the forecaster is not fitted.
        ValueError
            If ``steps`` is below 1 or, with ``strategy="direct"``, above ``horizon``; if
            ``X`` is missing, too short or given without exogenous series in fit; or if
            ``y`` does not fit the training series (number of variables, at least
            ``window`` steps, finite values).
        TypeError
            If ``steps`` is not an int.
        """
        check_is_fitted(self, "estimator_")
        steps = self.horizon if steps is None else steps
        _check_positive_int(steps, "steps")
        if self.strategy == "direct" and steps > self.horizon:
            raise ValueError(
                f"strategy='direct' forecasts at most horizon={self.horizon} steps, got "
                f"steps={steps}. Refit with a larger horizon or use strategy='recursive'."
            )
        n_future = steps if self.strategy == "recursive" else self.horizon
        if self.n_exog_ and X is None:
            raise ValueError(f"The forecaster was fitted with exogenous series: predict needs "
                             f"X with their values for the next {n_future} steps.")
        histories, many = (self._histories, self._many) if y is None else self._new(y, X)
        futures = self._future_exog(X, histories, many, n_future, y is not None)
        forecasts = self._forecast(histories, futures, steps)
        out = [_wrap(f, h.meta, steps) for f, h in zip(forecasts, histories)]
        return out if many else out[0]

    # -- internals ----------------------------------------------------------------------------
    @property
    def _lead(self):
        """Steps the regressor predicts at once: exogenous values lead the targets by it."""
        return self.horizon if self.strategy == "direct" else 1

    def _scale_of(self, values, exog):
        """Mean absolute value of each variable of one series, 1 where it is 0."""
        joined = _join(values, exog)
        if not self.scale:
            return np.ones(joined.shape[1])
        scale = np.abs(joined).mean(axis=0)
        return np.where(scale > 0, scale, 1.0)

    def _training_windows(self, values, exog, scale, where):
        lead = self._lead
        if exog is not None:  # the last `lead` rows never enter a window: any finite value
            exog = np.concatenate([exog[lead:], np.repeat(exog[-1:], min(lead, len(exog)), 0)])
        return _windows(_join(values, exog) / scale, values.shape[1], self.window, lead,
                        self.stride, where)

    def _history(self, series, exog, scale):
        tail = None if exog is None else exog[-self.window:]
        return _History(series.values[-self.window:], tail, scale, series)

    def _new(self, y, X):
        """Histories of the series given to predict, with their own scales."""
        series, many = _series_list(y, "y")
        exogs = [None] * len(series)
        if self.n_exog_:
            exogs = [x[:len(s.values)] for s, x in
                     zip(series, _exog_values(X, len(series), many, self.n_exog_))]
        histories = []
        for i, (s, x) in enumerate(zip(series, exogs)):
            self._check_history(s, x, _where(i, many, "y"))
            histories.append(self._history(s, x, self._scale_of(s.values, x)))
        return histories, many

    def _check_history(self, series, exog, where):
        T, n_targets = series.values.shape
        if n_targets != self.n_targets_:
            raise ValueError(f"{where} has {n_targets} variables, but the forecaster was "
                             f"fitted on {self.n_targets_}.")
        if T < self.window:
            raise ValueError(f"{where} has {T} steps, fewer than window={self.window}.")
        if exog is not None and len(exog) < T:
            raise ValueError(f"X has {len(exog)} steps for {where}, which has {T}: X must "
                             "cover the history and then the future steps.")
        if series.kind in ("series", "frame"):
            _future_index(series.index, 1)

    def _future_exog(self, X, histories, many, n_future, with_history):
        """Future exogenous values of each series, n_future rows each, or Nones."""
        if not self.n_exog_:
            if X is not None:
                raise ValueError("X was given, but the forecaster was fitted without "
                                 "exogenous series.")
            return [None] * len(histories)
        exogs = _exog_values(X, len(histories), many, self.n_exog_)
        futures = []
        for h, x in zip(histories, exogs):
            future = x[len(h.meta.values):] if with_history else x
            if len(future) < n_future:
                raise ValueError(f"X has exogenous values for {len(future)} future steps, but "
                                 f"forecasting with strategy={self.strategy!r} needs "
                                 f"{n_future}.")
            futures.append(future[:n_future])
        return futures

    def _forecast(self, histories, futures, steps):
        """Unscaled forecasts, one (steps, n_targets) array per history."""
        n_t, lead, window = self.n_targets_, self._lead, self.window
        targets = np.stack([h.target / h.scale[:n_t] for h in histories])
        exog = None
        if self.n_exog_:  # rows: times T - window ... T - 1, then the future steps
            exog = np.stack([np.concatenate([h.exog, f]) / h.scale[n_t:]
                             for h, f in zip(histories, futures)])
        predicted = []
        for k in range(steps if self.strategy == "recursive" else 1):
            Xw = targets[:, -window:]
            if exog is not None:
                Xw = np.concatenate([Xw, exog[:, k + lead:k + lead + window]], axis=2)
            Z = np.asarray(self.estimator_.predict(Xw)).reshape(len(Xw), lead, n_t)
            predicted.append(Z)
            targets = np.concatenate([targets, Z], axis=1)
        Z = np.concatenate(predicted, axis=1)[:, :steps]
        return [z * h.scale[:n_t] for z, h in zip(Z, histories)]


# the end of one series: last `window` targets and exogenous rows, scales, its _Series
_History = namedtuple("_History", "target exog scale meta")


# ------------------------------------------------------------------------------------------
# Reading series
# ------------------------------------------------------------------------------------------


def _series_list(series, what):
    """(list of _Series, many): one or many series as float (T, n_vars) arrays."""
    if isinstance(series, (list, tuple)) and len(series) == 0:
        raise ValueError(f"{what} holds no series: got an empty {type(series).__name__}.")
    many = _is_many(series)
    items = list(series) if many else [series]
    parsed = [_read_series(item, _where(i, many, what)) for i, item in enumerate(items)]
    n_vars = parsed[0].values.shape[1]
    for i, s in enumerate(parsed):
        if s.values.shape[1] != n_vars:
            raise ValueError(f"{_where(i, True, what)} has {s.values.shape[1]} variables but "
                             f"series 0 has {n_vars}: all series need the same variables.")
    return parsed, many


def _is_many(series):
    """A list or tuple of series (not of numbers) holds many series."""
    return isinstance(series, (list, tuple)) and len(series) > 0 and all(
        _is_pandas(item, "Series") or _is_pandas(item, "DataFrame") or np.ndim(item) >= 1
        for item in series)


def _read_series(item, where):
    if _is_pandas(item, "DataFrame"):
        values, kind, index, labels = _frame_values(item), "frame", item.index, item.columns
    elif _is_pandas(item, "Series"):
        values, kind, index, labels = _frame_values(item), "series", item.index, item.name
    elif item is None or isinstance(item, (str, bytes, dict, set)):
        raise TypeError(f"{where} must be an array-like or pandas object of numbers, got "
                        f"{type(item).__name__}.")
    else:
        values = np.asarray(item)
        kind, index, labels = ("array1d" if values.ndim == 1 else "array2d"), None, None
    return _Series(_as_2d(values, where), kind, index, labels)


def _as_2d(values, where):
    """A new float64 (T, n_vars) array of finite numbers."""
    values = _numeric(np.asarray(values), where)
    if values.ndim not in (1, 2):
        raise ValueError(f"{where} must be 1-D (T,) or 2-D (T, n_vars), got shape "
                         f"{values.shape}.")
    if values.size == 0:
        raise ValueError(f"{where} is empty: shape {values.shape}.")
    values = np.array(values.reshape(len(values), -1), dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        t = np.argwhere(bad)[0, 0]
        what = "NaN" if np.isnan(values[t]).any() else "infinity"
        raise ValueError(f"{where} contains {what} at step {t}: series must hold finite "
                         "values.")
    return values


def _is_names(exog):
    return isinstance(exog, (list, tuple)) and len(exog) > 0 and all(
        isinstance(name, str) for name in exog)


def _exog_list(exog, series, many, what, allow_names=True):
    """Exogenous values aligned with each series: a list of (T_i, n_exog) arrays, or Nones."""
    if exog is None:
        return [None] * len(series)
    if isinstance(exog, str) or _is_names(exog):
        if not allow_names:
            raise TypeError(f"{what} must hold exogenous values, not column names.")
        names = [exog] if isinstance(exog, str) else list(exog)
        return _named_columns(series, names, many, what)
    exogs = _exog_values(exog, len(series), many, None, what)
    for i, (s, x) in enumerate(zip(series, exogs)):
        if len(x) != len(s.values):
            raise ValueError(f"{_where(i, many, what)} has {len(x)} steps but its series has "
                             f"{len(s.values)}: exogenous values must cover the same steps.")
    return exogs


def _exog_values(exog, n_series, many, n_exog, what="X"):
    """One float (T, n_exog) array per series from a single array or a list of them."""
    items = list(exog) if many and isinstance(exog, (list, tuple)) else [exog]
    if len(items) != n_series:
        raise ValueError(f"{what} has exogenous values for {len(items)} series, but there are "
                         f"{n_series} series" + (": give a list with one per series."
                                                  if many else "."))
    values = [_read_series(x, _where(i, many, what)).values for i, x in enumerate(items)]
    n_exog = values[0].shape[1] if n_exog is None else n_exog
    for i, x in enumerate(values):
        if x.shape[1] != n_exog:
            raise ValueError(f"{_where(i, many, what)} has {x.shape[1]} exogenous variables, "
                             f"expected {n_exog}.")
    return values


def _named_columns(series, names, many, what):
    for i, s in enumerate(series):
        where = _where(i, many, "series")
        if s.kind != "frame":
            raise TypeError(f"{what} names columns, but {where} is not a DataFrame.")
        missing = [name for name in names if name not in s.labels]
        if missing:
            raise ValueError(f"{what} names columns {missing} that {where} does not have; "
                             f"its columns are {list(s.labels)}.")
        if len(set(names)) >= len(s.labels):
            raise ValueError(f"{what} names every column of {where}: no target is left.")
    return [s.values[:, s.labels.get_indexer(names)] for s in series]


def _drop_names(series, exog):
    names = [exog] if isinstance(exog, str) else list(exog)
    return [s.values[:, ~s.labels.isin(names)] for s in series]


# ------------------------------------------------------------------------------------------
# Windows and outputs
# ------------------------------------------------------------------------------------------


def _windows(Z, n_targets, window, horizon, stride, where):
    """Windows of one (T, n_features) series whose first n_targets columns are targets."""
    T = len(Z)
    if T < window + horizon:
        raise ValueError(f"{where} has {T} steps, fewer than window + horizon = "
                         f"{window} + {horizon}.")
    starts = np.arange(T - window - horizon, -1, -stride)[::-1]
    view = np.lib.stride_tricks.sliding_window_view
    X = view(Z, window, axis=0)[starts].transpose(0, 2, 1)
    Y = view(Z[window:, :n_targets], horizon, axis=0)[starts].transpose(0, 2, 1)
    return np.ascontiguousarray(X), Y.reshape(len(starts), horizon * n_targets)


def _join(values, exog):
    return values if exog is None else np.concatenate([values, exog], axis=1)


def _wrap(forecast, meta, steps):
    """A (steps, n_targets) forecast in the form of its series."""
    import pandas as pd

    if meta.kind == "array1d":
        return forecast[:, 0]
    if meta.kind == "array2d":
        return forecast
    index = _future_index(meta.index, steps)
    if meta.kind == "series":
        return pd.Series(forecast[:, 0], index=index, name=meta.labels)
    return pd.DataFrame(forecast, index=index, columns=meta.labels)


def _future_index(index, steps):
    """The ``steps`` index values after the end of a pandas index."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq
        if freq is None and len(index) >= 3:
            freq = pd.DatetimeIndex(index, freq="infer").freq
        if freq is None:
            raise ValueError(
                "The series has a DatetimeIndex without a frequency, and none can be "
                "inferred: set one, e.g. series.asfreq('MS'), or pass numpy values.")
        return pd.date_range(index[-1], periods=steps + 1, freq=freq)[1:]
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[-1] + 1, periods=steps, freq=index.freq)
    if isinstance(index, pd.RangeIndex):
        return pd.RangeIndex(index.stop, index.stop + steps * index.step, index.step)
    return pd.RangeIndex(len(index), len(index) + steps)


def _where(i, many, what):
    return f"{what}[{i}]" if many else what


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
