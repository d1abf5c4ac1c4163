"""RNNLanguageModel: identities of its scores, streams and samples, the gradient of the whole
model (tied tables included), agreement with PyTorch, the two training modes, and bad input."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

import skrnn.language_model as lm_module
from skrnn import RNNLanguageModel
from skrnn.language_model import _documents, _split_stream, _stream_of

TEXTS = ["abcabcabc", "abcab", "cabcabca", "bcabc", "ab", ""] * 4
SMALL = dict(hidden_layer_sizes=(6,), embedding_dim=4, batch_size=8, random_state=0)


def fitted(cell="lstm", max_iter=3, texts=TEXTS, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return RNNLanguageModel(cell, **{**SMALL, "max_iter": max_iter, **params}).fit(texts)


@pytest.fixture(scope="module")
def model():
    return fitted("lstm", max_iter=15, hidden_layer_sizes=(8, 6))


def reference_log_likelihoods(lm, texts):
    """log P(text) from the network's per-step logits over whole sequences, by hand."""
    ids = lm.encoder_.transform(texts)
    out = []
    for s in ids:
        Z = lm.network_.forward(lm.theta_, s[None, :-1], [len(s) - 1])[0].astype(np.float64)
        logp = Z - np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1, keepdims=True)) \
            - Z.max(1, keepdims=True)
        out.append(logp[np.arange(len(s) - 1), s[1:]].sum())
    return np.array(out)


# -- identities ----------------------------------------------------------------------------------
def test_score_is_the_mean_of_score_samples_per_predicted_token(model):
    held_out = ["cabca", "abcabcab", "", "zz"]  # "z" is unknown: <unk>
    per_text = model.score_samples(held_out)
    n_predicted = sum(len(t) + 1 for t in held_out)  # the tokens and <eos>
    assert per_text.shape == (4,)
    assert model.score(held_out) == pytest.approx(per_text.sum() / n_predicted, rel=1e-12)
    assert model.perplexity(held_out) == pytest.approx(np.exp(-model.score(held_out)))
    assert model.bits_per_character(held_out) == pytest.approx(
        -model.score(held_out) / np.log(2))


def test_scores_equal_the_whole_sequence_logits_in_groups_and_windows(model, monkeypatch):
    """Scoring reads rows in groups and steps in windows with the state carried: the same
    log-likelihoods as the logits of whole sequences."""
    texts = ["abcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabcabc",
             "cab", "bca" * 30, ""]
    expected = reference_log_likelihoods(model, texts)
    np.testing.assert_allclose(model.score_samples(texts), expected, rtol=1e-5)
    monkeypatch.setattr(lm_module, "_SCORE_ELEMENTS", 1)  # one row at a time, windows of 64
    np.testing.assert_allclose(model.score_samples(texts), expected, rtol=1e-5)


def test_predict_proba_sums_to_one_and_equals_a_stream_fed_the_prefix(model):
    prefixes = ["", "a", "abcab", "cc"]
    P = model.predict_proba(prefixes)
    assert P.shape == (4, len(model.classes_))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)
    for prefix, row in zip(prefixes, P):
        ids = model.encoder_.transform([prefix])[0][:-1]  # <bos> and the prefix
        stream = model.stream()
        for i in ids:
            last = stream.step(i)
        np.testing.assert_allclose(last[0], row, rtol=1e-5, atol=1e-7)
    assert list(model.predict(prefixes)) == list(model.classes_[P.argmax(axis=1)])


def test_transform_is_the_state_predict_proba_reads(model):
    prefixes = ["ab", "cabca"]
    h = model.transform(prefixes)
    P = model.state_dict()
    Z = h @ P["head.weight"].T + P["head.bias"]
    expected = np.exp(Z - Z.max(1, keepdims=True))
    np.testing.assert_allclose(expected / expected.sum(1, keepdims=True),
                               model.predict_proba(prefixes), rtol=1e-5, atol=1e-7)


# -- sampling ------------------------------------------------------------------------------------
def test_greedy_sampling_is_deterministic_and_repeats_the_argmax(model):
    a = model.sample(3, prefix="ab", max_length=12, temperature=0, random_state=0)
    b = model.sample(1, prefix="ab", max_length=12, temperature=0, random_state=5)
    assert a == b * 3
    text = "ab"
    for _ in range(len(a[0])):
        text += model.predict([text])[0]
    assert text == "ab" + a[0]
    # a greedy text stops where <eos> is the most likely token, or at max_length
    assert len(a[0]) == 12 or model.predict(["ab" + a[0]])[0] == "<eos>"


def test_sampling_is_reproducible_and_never_draws_padding_or_begin(model):
    a = model.sample(20, max_length=15, random_state=3)
    assert a == model.sample(20, max_length=15, random_state=3)
    assert a != model.sample(20, max_length=15, random_state=4)
    assert all(isinstance(s, str) and len(s.replace("<unk>", "?")) <= 15 for s in a)
    assert not any("<pad>" in s or "<bos>" in s for s in a)
    # top_k=1 and a tiny nucleus both leave the most likely token only: greedy
    greedy = model.sample(2, prefix="c", max_length=8, temperature=0)
    assert model.sample(2, prefix="c", max_length=8, top_k=1, random_state=0) == greedy
    assert model.sample(2, prefix="c", max_length=8, top_p=1e-9, random_state=0) == greedy


def test_draw_restricts_to_top_k_and_the_nucleus():
    proba = np.array([[0.0, 0.0, 0.3, 0.0, 0.4, 0.2, 0.1]] * 4000)  # ids 0 and 2 never drawn
    rng = np.random.RandomState(0)
    drawn = lm_module._draw(proba, 1.0, None, None, rng)
    assert set(np.unique(drawn)) == {4, 5, 6}  # <bos> (2) is never drawn, even with mass
    counts = np.bincount(drawn, minlength=7) / len(drawn)
    np.testing.assert_allclose(counts[[4, 5, 6]], np.array([0.4, 0.2, 0.1]) / 0.7, atol=0.03)
    assert set(np.unique(lm_module._draw(proba, 1.0, 2, None, rng))) == {4, 5}
    # without <bos>: 4/7, 2/7, 1/7; a nucleus of 0.5 is the first token, of 0.6 two
    assert set(np.unique(lm_module._draw(proba, 1.0, None, 0.5, rng))) == {4}
    assert set(np.unique(lm_module._draw(proba, 1.0, None, 0.6, rng))) == {4, 5}
    cold = np.bincount(lm_module._draw(proba, 0.25, None, None, rng), minlength=7)
    assert cold[4] / cold.sum() > 0.9  # (0.4 / 0.2) ** 4 = 16 times as likely as the next


# -- training ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stream_mode_with_one_text_and_a_long_window_is_documents_mode(cell):
    text = ["abcabcbbacabca"]
    params = dict(max_iter=2, batch_size=1, cell=cell)
    docs = fitted(texts=text, mode="documents", **params)
    stream = fitted(texts=text, mode="stream", tbptt_steps=100, **params)
    np.testing.assert_allclose(stream.loss_curve_, docs.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(stream.theta_, docs.theta_, rtol=1e-5, atol=1e-7)


def test_stream_mode_carries_the_state_and_updates_after_every_window():
    lm = fitted(texts=["abcabcabcabcabcabcabcabcabcabc"] * 2, mode="stream", tbptt_steps=5,
                batch_size=2, max_iter=2)
    # 64 ids in 2 rows of 32: 31 inputs per row, windows of 5 -> 7 updates per epoch
    assert lm.t_ == 14
    assert len(lm.loss_curve_) == 2


def test_loss_and_grad_carries_the_state_across_calls():
    """Two windows with the state carried give the losses of the whole sequence's windows."""
    lm = fitted(max_iter=1)
    net, theta = lm.network_, lm.theta_.astype(np.float64)
    ids = lm.encoder_.transform(["abcabcabcab"])[0]
    X, Y = ids[None, :-1], ids[None, 1:]
    T = X.shape[1]
    whole, _ = net.loss_and_grad(theta, X, [T], Y, "softmax", tbptt_steps=4)
    state = lm_module._zero_state(net, 1, np.float64)
    total = 0.0
    for s in range(0, T, 4):
        e = min(T, s + 4)
        loss, _, state = net.loss_and_grad(theta, X[:, s:e], [e - s], Y[:, s:e], "softmax",
                                           initial_state=state, final_state=True)
        total += loss * (e - s)
    assert total / T == pytest.approx(whole, rel=1e-12)


def test_early_stopping_restores_the_best_held_out_weights():
    texts = ["abcabcabc", "cabcab"] * 10
    lm = fitted(texts=texts, mode="stream", tbptt_steps=6, max_iter=6, early_stopping=True,
                validation_fraction=0.2, n_iter_no_change=2)
    assert len(lm.validation_scores_) == lm.n_iter_
    assert lm.best_validation_score_ == max(lm.validation_scores_)
    held_out = _split_stream(lm, _stream_of(lm.encoder_.transform(texts)), None, False)[1]
    assert lm._evaluate_validation(held_out)[0] == pytest.approx(lm.best_validation_score_,
                                                             rel=1e-6)


def test_documents_mode_early_stopping_scores_held_out_texts():
    lm = fitted(max_iter=4, early_stopping=True, validation_fraction=0.25)
    assert len(lm.validation_scores_) == lm.n_iter_
    assert all(s < 0 for s in lm.validation_scores_)


def test_a_character_model_learns_a_pattern_better_than_chance():
    lm = fitted("gru", max_iter=40, texts=["abcabcabc", "cabcab", "bcabca"] * 8,
                hidden_layer_sizes=(12,))
    assert lm.perplexity(["abcabc"]) < 2.0  # 7 ids outside the markers: chance is about 7
    assert lm.perplexity(["abcabc"]) < lm.perplexity(["acbbac"])
    assert list(lm.predict(["ab", "abca", "c"])) == ["c", "b", "a"]


def test_word_models_and_pretokenized_texts():
    words = ["the cat sat", "the dog sat", "a cat ran", "the cat ran"] * 5
    lm = fitted(analyzer="word", texts=words, max_iter=2)
    assert "cat" in lm.classes_ and list(lm.classes_[:4]) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    sample = lm.sample(2, prefix="the", max_length=4, random_state=0)
    assert all(isinstance(s, list) for s in sample)
    with pytest.raises(ValueError, match="character model"):
        lm.bits_per_character(words)
    tokens = [t.split() for t in words]
    pre = fitted(analyzer=None, texts=tokens, max_iter=2)
    assert pre.score_samples([["the", "cat"]]).shape == (1,)
    assert all(isinstance(s, list) for s in pre.sample(2, max_length=3, random_state=0))


# -- gradients and PyTorch -----------------------------------------------------------------------
@pytest.mark.parametrize("tie", [False, True])
def test_gradient_of_the_whole_model_matches_finite_differences(tie):
    """The objective (embedding, two LSTM layers, output layer, tied or not) in float64,
    along random directions that keep tied tables equal."""
    params = dict(hidden_layer_sizes=(5, 4), embedding_dim=4 if tie else 3, tie_weights=tie)
    lm = fitted(max_iter=1, **params)
    data = _documents(lm.encoder_.transform(["abcab", "ca", "bbcaa"]))
    theta = lm.theta_.astype(np.float64)
    rng = np.random.default_rng(0)
    theta += rng.normal(scale=0.1, size=theta.shape)
    P = lm.network_.unpack(theta)
    if tie:
        P["head.weight"][...] = P["embedding.weight"]
    loss, grad = lm._objective(theta, data)
    for _ in range(4):
        d = rng.normal(size=theta.shape)
        D = lm.network_.unpack(d)
        D["embedding.weight"][0] = 0  # the padding row is never read
        if tie:
            D["head.weight"][...] = D["embedding.weight"]
        eps = 1e-6
        numeric = (lm._objective(theta + eps * d, data)[0]
                   - lm._objective(theta - eps * d, data)[0]) / (2 * eps)
        # tied: both copies move together and each holds the sum of the two gradients,
        # which counts once
        G = lm.network_.unpack(grad)
        analytic = grad @ d - (np.vdot(G["head.weight"], D["head.weight"]) if tie else 0)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_tied_tables_stay_equal_through_training():
    lm = fitted(max_iter=3, embedding_dim=6, tie_weights=True)
    P = lm.state_dict()
    np.testing.assert_array_equal(P["head.weight"], P["embedding.weight"])


def test_log_likelihood_agrees_with_pytorch(model):
    torch = pytest.importorskip("torch")
    P = {k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()}
    net = model.network_
    emb = torch.nn.Embedding(len(model.classes_), net.input_size)
    sizes = (net.input_size,) + net.hidden_sizes  # layers of different sizes: one module each
    layers = [torch.nn.LSTM(sizes[k], sizes[k + 1], batch_first=True) for k in range(2)]
    head = torch.nn.Linear(net.hidden_sizes[-1], len(model.classes_))
    emb.load_state_dict({"weight": P["embedding.weight"]})
    for k, layer in enumerate(layers):
        layer.load_state_dict({name.replace(f"_l{k}", "_l0"): v for name, v in P.items()
                               if name.endswith(f"_l{k}")})
    head.load_state_dict({"weight": P["head.weight"], "bias": P["head.bias"]})
    texts = ["cabcabca", "abca", "zabc"]
    expected = []
    with torch.no_grad():
        for s in model.encoder_.transform(texts):
            out = emb(torch.from_numpy(s[None, :-1]))
            for layer in layers:
                out, _ = layer(out)
            logp = torch.log_softmax(head(out)[0], dim=-1)
            expected.append(float(logp[torch.arange(len(s) - 1), torch.from_numpy(s[1:])].sum()))
    np.testing.assert_allclose(model.score_samples(texts), expected, rtol=1e-5)


# -- scikit-learn --------------------------------------------------------------------------------
def test_grid_search_tunes_it_by_held_out_log_likelihood():
    search = GridSearchCV(RNNLanguageModel(**{**SMALL, "max_iter": 2}),
                          {"hidden_layer_sizes": [(4,), (8,)]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(TEXTS)
    assert search.best_score_ < 0 and np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert clone(search.best_estimator_).get_params() == search.best_estimator_.get_params()


@pytest.mark.parametrize("X,message", [
    ("abc", "single string"), ([], "no text"), (3, "list of texts"),
    ({"abc": 1}, "list of texts")])
def test_bad_texts_are_refused(X, message):
    with pytest.raises(ValueError, match=message):
        RNNLanguageModel(**SMALL).fit(X)


def test_a_failed_refit_keeps_the_fitted_model():
    lm = fitted(max_iter=1)
    before = lm.score_samples(["abc"])
    for bad in (["abc", 5], ["a"]):
        with pytest.raises((TypeError, ValueError)):
            lm.set_params(mode="stream" if bad == ["a"] else "documents").fit(bad)
        np.testing.assert_array_equal(lm.score_samples(["abc"]), before)


def test_texts_that_are_not_strings_and_unfitted_models_are_named(model):
    with pytest.raises(TypeError, match="must be a str"):
        RNNLanguageModel(**SMALL).fit(["abc", 5])
    with pytest.raises(TypeError, match="must be a str"):
        model.score(["abc", None])
    with pytest.raises(NotFittedError):
        RNNLanguageModel().predict(["a"])


def test_bad_settings_are_refused_or_warned():
    with pytest.raises(ValueError, match="embedding_dim"):
        RNNLanguageModel(**{**SMALL, "tie_weights": True}).fit(TEXTS)
    with pytest.raises(ValueError, match="mode"):
        RNNLanguageModel(mode="lines").fit(TEXTS)
    with pytest.warns(UserWarning, match="dropout=0.5 has no effect"):
        fitted(max_iter=1, dropout=0.5)
    with pytest.raises(ValueError, match="too few"):
        RNNLanguageModel(**{**SMALL, "mode": "stream"}).fit(["a"])


@pytest.mark.parametrize("kwargs,message", [
    ({"n_samples": 0}, "n_samples"), ({"max_length": 1.5}, "max_length"),
    ({"temperature": -1}, "temperature"), ({"top_k": 0}, "top_k"), ({"top_p": 1.5}, "top_p")])
def test_bad_sampling_settings_are_refused(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.sample(**kwargs)


def test_fitting_leaves_the_texts_alone_and_refitting_gives_the_same_model():
    texts = list(TEXTS)
    a, b = fitted(texts=texts), fitted(texts=texts)
    assert texts == TEXTS
    np.testing.assert_array_equal(a.theta_, b.theta_)


@pytest.mark.parametrize("how", ["pickle", "skrnn"])
def test_a_saved_model_loads_with_its_vocabulary_and_gives_the_same_outputs(model, how,
                                                                             tmp_path):
    import pickle

    from skrnn.persistence import load, save
    if how == "pickle":
        again = pickle.loads(pickle.dumps(model))
    else:
        save(model, tmp_path / "lm.skrnn")
        again = load(tmp_path / "lm.skrnn")
    texts = ["abcab", "zz", ""]
    assert again.encoder_.vocabulary_ == model.encoder_.vocabulary_
    assert again.get_params() == model.get_params()
    for method in ("score_samples", "predict_proba", "transform"):
        a, b = getattr(again, method)(texts), getattr(model, method)(texts)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), method
    assert again.sample(3, max_length=9, random_state=1) == \
        model.sample(3, max_length=9, random_state=1)
    assert again.loss_curve_ == model.loss_curve_ and again.t_ == model.t_
