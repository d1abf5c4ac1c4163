"""
Export to ONNX and run with onnxruntime
=======================================

A model trained with skrnn can run where neither skrnn nor Python's scientific stack is
installed: :func:`skrnn.onnx.to_onnx` writes it as an ONNX graph of ONNX's own LSTM operator,
and onnxruntime (or any ONNX runtime) runs it. The same weights also load into PyTorch
modules (:mod:`skrnn.interchange`), shown at the end where PyTorch is installed.

The data are scikit-learn's handwritten digits (8 x 8 images) read row by row, top to bottom:
sequences of 8-pixel rows. Each image is cut to the rows between its first and its last row
with more than a faint trace of ink (a row sum above 1.5, pixels scaled to [0, 1]), so the
sequences have 3 to 8 steps; the exported graph finds each sequence's length itself from the
NaN padding.
"""

# %%
# Train a bidirectional LSTM
# --------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skrnn import RNNClassifier
from skrnn.onnx import to_onnx
from skrnn.sequences import to_nan_padded

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a fixed budget of epochs

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)
inked = [np.flatnonzero(image.sum(axis=1) > 1.5) for image in images]  # rows with some ink
sequences = [image[rows.min(): rows.max() + 1] for image, rows in zip(images, inked)]
X_train, X_test, y_train, y_test = train_test_split(sequences, digits.target, test_size=0.25,
                                                    random_state=0)
lengths = np.array([len(x) for x in sequences])
print(f"{len(X_train)} training and {len(X_test)} test digits, {lengths.min()} to "
      f"{lengths.max()} rows each")

clf = RNNClassifier("lstm", (32,), bidirectional=True, max_iter=30, random_state=0)
clf.fit(X_train, y_train)
print(f"skrnn test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Export and run
# --------------
# The graph's input is the NaN-padded array (n_sequences, T, n_features); its outputs are
# ``label`` and ``probabilities``, as skl2onnx names them for scikit-learn's classifiers.
model = to_onnx(clf)
print("inputs:", [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
                  for i in model.graph.input])
print("outputs:", [o.name for o in model.graph.output])
print("operators:", sorted({node.op_type for node in model.graph.node}))

session = onnxruntime.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
X_padded = to_nan_padded(X_test).astype(np.float32)
labels, probabilities = session.run(None, {"X": X_padded})

# %%
# Compare
# -------
# The labels are identical and the probabilities agree to float32 round-off.
skrnn_proba = clf.predict_proba(X_test)
difference = np.abs(probabilities - skrnn_proba).max()
print(f"labels identical: {np.array_equal(labels, clf.predict(X_test))}")
print(f"largest difference of the probabilities: {difference:.2g}")
assert np.array_equal(labels, clf.predict(X_test)) and difference < 1e-5

fig, axes = plt.subplots(1, 6, figsize=(9, 2.2))
for ax, image, label, p in zip(axes, X_padded, labels, probabilities):
    ax.imshow(np.nan_to_num(image, nan=-0.3), cmap="gray_r", vmin=-0.3, vmax=1)
    ax.set_title(f"{label} ({p.max():.2f})", fontsize=9)
    ax.set_axis_off()
fig.suptitle("onnxruntime's labels (probability); grey rows are NaN padding", fontsize=10)
plt.tight_layout()

# %%
# The same weights in PyTorch
# ---------------------------
# skrnn's LSTM is PyTorch's, so :func:`skrnn.interchange.to_torch_state_dict` gives weights that
# load with ``strict=True`` into the module documented in :mod:`skrnn.interchange`: here a
# bidirectional ``nn.LSTM`` and an ``nn.Linear`` head on the final states of both directions.
# PyTorch is not a dependency of skrnn; this part runs only where it is installed.
from skrnn.interchange import to_torch_state_dict

try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: this part is skipped.")

if torch is not None:

    class SkrnnModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(8, 32, num_layers=1, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(2 * 32, 10)

        def forward(self, X, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                torch.nan_to_num(X), lengths, batch_first=True, enforce_sorted=False)
            _, (h_n, _) = self.rnn(packed)
            return torch.softmax(self.head(torch.cat([h_n[-2], h_n[-1]], dim=1)), dim=1)

    module = SkrnnModule().eval()
    weights = to_torch_state_dict(clf)
    module.load_state_dict({name: torch.from_numpy(w) for name, w in weights.items()},
                           strict=True)
    with torch.no_grad():
        torch_proba = module(torch.from_numpy(X_padded),
                             torch.tensor([len(x) for x in X_test])).numpy()
    print(f"largest difference, PyTorch against skrnn: "
          f"{np.abs(torch_proba - skrnn_proba).max():.2g}")
