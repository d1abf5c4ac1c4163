"""Every public object of skrnn passes numpydoc's docstring validation.

The public objects are discovered, not listed, so that new ones are checked as soon as they
are exported:

- every class and function named in ``__all__`` of the public modules (``PUBLIC_MODULES``,
  plus every public submodule of ``skrnn.nn`` that defines ``__all__``), skipping constants;
- every public method and property of those classes that is defined in skrnn. What a class
  inherits from scikit-learn (``get_params``, ``score``, ``set_*_request``, ...) is
  scikit-learn's to document.

An object reachable under several names (``skrnn.RNNForecaster`` and
``skrnn.forecasting.RNNForecaster``, a method inherited by several estimators) is validated
once, under the name of the place it is defined, which is where its docstring is fixed.

Run one object's check with ``python -m pytest tests/test_docstrings.py -k make_windows``.
"""

import functools
import importlib
import inspect
import pkgutil

import pytest
from numpydoc.docscrape import get_doc_object
from numpydoc.validate import ERROR_MSGS, validate

import skrnn.nn

PUBLIC_MODULES = ("skrnn", "skrnn.sequences", "skrnn.forecasting", "skrnn.preprocessing",
                  "skrnn.persistence", "skrnn.streaming", "skrnn.onnx", "skrnn.interchange",
                  "skrnn.datasets", "skrnn.text", "skrnn.nn")

# numpydoc's checks enforced on every docstring (numpydoc.validate.ERROR_MSGS has their text):
# a docstring (GL08), closing quotes on the line after the last text (GL02), the summary (SS),
# the Parameters section matching the signature (PR), the Returns section (RT01-RT03).
# Not enforced: GL01, because numpydoc before 1.11 wants the summary on the line after the
# opening quotes, and skrnn starts it on the same line (PEP 257 allows both); RT04/RT05 (a
# returned value's description starting with a capital and ending with a period); an
# extended summary (ES01), See Also (SA), section order and the rest.
ENFORCED = frozenset(
    ["GL02", "GL08", "SS01", "SS02", "SS03", "SS04", "SS05", "SS06", "RT01", "RT02", "RT03"]
    + [f"PR{i:02d}" for i in range(1, 11)]
)
# What users meet first, public classes and module-level functions, also need an Examples
# section (EX01); their methods and properties are shown by the class's examples.
ENFORCED_TOP_LEVEL = ENFORCED | {"EX01"}

assert ENFORCED_TOP_LEVEL <= set(ERROR_MSGS), "a check code numpydoc does not know"


def _public_modules():
    """The public modules: PUBLIC_MODULES and the public submodules of skrnn.nn with __all__."""
    names = list(PUBLIC_MODULES)
    for info in pkgutil.iter_modules(skrnn.nn.__path__, prefix="skrnn.nn."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            names.append(info.name)
    modules = [importlib.import_module(name) for name in names]
    return [m for m in modules if m.__name__ in PUBLIC_MODULES or hasattr(m, "__all__")]


def _in_skrnn(obj):
    module = getattr(obj, "__module__", None) or ""
    return module == "skrnn" or module.startswith("skrnn.")


def _resolve(name):
    """The object a dotted name leads to (as numpydoc imports it), or None."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _defined_name(obj, fallback):
    """``module.qualname`` where obj is defined, if it leads back to obj; else fallback."""
    name = f"{obj.__module__}.{obj.__qualname__}"
    if "<locals>" in name:
        return fallback
    found = _resolve(name)
    if isinstance(found, property):
        found = found.fget
    elif isinstance(found, functools.cached_property):
        found = found.func
    return name if inspect.unwrap(found) is inspect.unwrap(obj) else fallback


def _members(cls, cls_name):
    """(name, kind) of the public methods and properties of cls defined in skrnn."""
    for attr in dir(cls):
        if attr.startswith("_"):
            continue
        static = inspect.getattr_static(cls, attr)
        if isinstance(static, property):
            func, kind = static.fget, "property"
        elif isinstance(static, functools.cached_property):
            func, kind = static.func, "property"
        else:  # functions, static/class methods, descriptors such as available_if
            func, kind = getattr(cls, attr, None), "method"
            if inspect.isclass(func) or not callable(func):
                continue
        if func is not None and _in_skrnn(func):
            yield _defined_name(func, f"{cls_name}.{attr}"), kind


def public_objects():
    """{qualified name: kind} of every public object, kind in class/function/method/property."""
    found = {}
    for module in _public_modules():
        for attr in module.__all__:
            obj = getattr(module, attr)
            if not (inspect.isclass(obj) or callable(obj)) or not _in_skrnn(obj):
                continue  # a constant (FORMAT_VERSION, __version__, LOSSES), or not skrnn's
            name = _defined_name(obj, f"{module.__name__}.{attr}")
            if inspect.isclass(obj):
                found.setdefault(name, "class")
                for member, kind in _members(obj, name):
                    found.setdefault(member, kind)
            else:
                found.setdefault(name, "function")
    return dict(sorted(found.items()))


PUBLIC_OBJECTS = public_objects()


def _option_descriptions(obj):
    """PR07-PR09 for parameters typed as a set of options, which numpydoc does not check.

    numpydoc (1.6 to 1.11 at least) skips the description checks of a parameter whose type
    holds "{", such as ``strategy : {"direct", "recursive"}``; the same rules apply here.
    """
    doc = get_doc_object(obj)
    for names, type_, desc in doc["Parameters"] + doc["Other Parameters"]:
        if "{" not in type_:
            continue
        text = "\n".join(desc).strip()
        for name in names.split(", "):
            if not text:
                yield "PR07", ERROR_MSGS["PR07"].format(param_name=name)
                continue
            if text[0].isalpha() and not text[0].isupper():
                yield "PR08", ERROR_MSGS["PR08"].format(param_name=name)
            last = text.splitlines()[-1]
            if not last.endswith(".") and not last.startswith((" ", "* ", "- ")):
                yield "PR09", ERROR_MSGS["PR09"].format(param_name=name)


def enforced_errors(name, kind):
    """numpydoc's result for ``name`` and its errors among the checks enforced for ``kind``."""
    result = validate(name)
    enforced = ENFORCED_TOP_LEVEL if kind in ("class", "function") else ENFORCED
    errors = [(code, message) for code, message in result["errors"] if code in enforced]
    if result["docstring"]:
        errors += [error for error in _option_descriptions(_resolve(name)) if error not in errors]
    return result, errors


def _report(name, kind, result, errors):
    where = f"{result['file']}:{result['file_line']}"
    lines = [f"{name} ({kind}, {where}) fails numpydoc validation:"]
    lines += [f"  {code}: {message}" for code, message in errors]
    lines += ["", "Its docstring:", "", result["docstring"] or "(none)"]
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(PUBLIC_OBJECTS))
def test_docstring(name):
    kind = PUBLIC_OBJECTS[name]
    result, errors = enforced_errors(name, kind)
    if errors:
        pytest.fail(_report(name, kind, result, errors), pytrace=False)


def test_discovery():
    """The discovery finds each kind of object, and skips what it must skip."""
    assert PUBLIC_OBJECTS["skrnn.forecasting.RNNForecaster"] == "class"
    assert PUBLIC_OBJECTS["skrnn.forecasting.RNNForecaster.predict"] == "method"
    assert PUBLIC_OBJECTS["skrnn.forecasting.make_windows"] == "function"
    assert PUBLIC_OBJECTS["skrnn.persistence.load"] == "function"
    assert "skrnn.nn.network.RecurrentNetwork" in PUBLIC_OBJECTS  # through skrnn.nn
    assert "skrnn.nn.optimizers.clip_grad_norm" in PUBLIC_OBJECTS  # a submodule's __all__
    for constant in ("skrnn.persistence.FORMAT_VERSION", "skrnn.nn.losses.LOSSES"):
        assert constant not in PUBLIC_OBJECTS
    for name in PUBLIC_OBJECTS:
        obj = _resolve(name)
        assert _in_skrnn(obj.fget if isinstance(obj, property) else obj), name
        assert not name.rsplit(".", 1)[-1].startswith("_"), name
    inherited = {name.rsplit(".", 1)[-1] for name in PUBLIC_OBJECTS}
    assert not inherited & {"get_params", "set_params", "set_fit_request"}
    # fit_transform is scikit-learn's where inherited, skrnn's where a class overrides it
    assert "skrnn.preprocessing.SequenceScaler.fit_transform" not in PUBLIC_OBJECTS
    assert PUBLIC_OBJECTS["skrnn.text.TokenEncoder.fit_transform"] == "method"


def test_a_bad_docstring_fails(monkeypatch):
    """The check reports what is wrong, so a passing test means something."""
    import skrnn.sequences

    monkeypatch.setattr(skrnn.sequences.split_steps, "__doc__", "split steps")
    _, errors = enforced_errors("skrnn.sequences.split_steps", "function")
    assert {"SS02", "SS03", "PR01", "RT01", "EX01"} <= {code for code, _ in errors}

    undescribed = skrnn.sequences.to_ragged.__doc__.replace(
        "Meaning of a 2-D input, see :func:`check_sequences`.", "")
    monkeypatch.setattr(skrnn.sequences.to_ragged, "__doc__", undescribed)
    _, errors = enforced_errors("skrnn.sequences.to_ragged", "function")
    assert ("PR07", ERROR_MSGS["PR07"].format(param_name="two_d")) in errors
