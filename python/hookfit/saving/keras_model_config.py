"""Model and compile configs in the shapes Keras writes them.

``model_to_keras`` gives the model config of ``config.json`` (Keras 3) or
of the ``model_config`` attribute (Keras 2); ``model_from_keras`` rebuilds
a hookfit model from either, after counting the parameters the config
declares (nothing is allocated for a model larger than the file could hold
or than ``limits.MAX_PARAMETERS``). Layers go through ``keras_layers``.
"""

from __future__ import annotations

from hookfit.saving import keras_functional_config, keras_layers
from hookfit.saving.file_errors import UnsafeFileError, UnsupportedConfigError
from hookfit.saving.limits import check_fits_in, check_parameter_count

_MODEL_CLASSES = ("Sequential",)


def _input_layer_config(model, keras: int) -> dict:
    layer = getattr(model, "_input_layer", None)
    name = layer.name if layer is not None else "input_layer"
    return keras_layers.input_config(model.input_dim, name, keras)


def entry(class_name: str, config: dict, keras: int, **extra) -> dict:
    if keras == 2:
        return {"class_name": class_name, "config": config}
    return {"module": "keras.layers", "class_name": class_name, "config": config, "registered_name": None, **extra}


def model_to_keras(model, keras: int) -> dict:
    """``{"class_name": "Sequential", "config": ...}`` as Keras writes it."""
    class_name = type(model).__name__
    if class_name == "Functional":
        return keras_functional_config.to_keras(model, keras)
    if class_name not in _MODEL_CLASSES:
        raise UnsupportedConfigError(
            f"Writing a {class_name} model to a Keras file is not supported yet (only "
            f"{', '.join(_MODEL_CLASSES)})."
        )
    layers = [entry("InputLayer", _input_layer_config(model, keras), keras)]
    fan_in = model.input_dim
    for layer in model.layers:
        translator = keras_layers.translator_for_layer(layer)
        extra = {"build_config": {"input_shape": [None, fan_in]}} if keras == 3 else {}
        layers.append(entry(translator.keras_class, translator.to_keras(layer, keras), keras, **extra))
        fan_in = getattr(layer, "units", fan_in)
    config = {"name": model.name, "layers": layers}
    if keras == 3:
        config.update(trainable=True, dtype=keras_layers._DTYPE_POLICY, build_input_shape=[None, model.input_dim])
        return {
            "module": "keras",
            "class_name": "Sequential",
            "config": config,
            "registered_name": None,
            "build_config": {"input_shape": [None, model.input_dim]},
        }
    return {"class_name": "Sequential", "config": config}


def model_from_keras(model_config, classes: dict, source: str, *, weights_bytes: int):
    """Rebuild a hookfit model from a Keras model config; ``weights_bytes``
    is how much weight data the file holds (a bound on the model's size)."""
    if not isinstance(model_config, dict):
        raise UnsupportedConfigError(f"{source}: the model config is not a JSON object.")
    class_name = model_config.get("class_name")
    if class_name in keras_functional_config.FUNCTIONAL_CLASSES and model_config.get("registered_name") in (
        None, "Functional", "Model"
    ):
        return keras_functional_config.from_keras(model_config, classes, source, weights_bytes=weights_bytes)
    if class_name not in _MODEL_CLASSES or model_config.get("registered_name") not in (None, class_name):
        raise UnsafeFileError(
            f"{source}: the model class {model_config.get('registered_name') or class_name!r} is not "
            f"one hookfit knows ({', '.join(_MODEL_CLASSES)}); custom classes are never loaded from a file."
        )
    config = model_config.get("config")
    entries = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(entries, list) or not isinstance(config, dict):
        raise UnsupportedConfigError(f"{source}: the Sequential config has no list of layers.")
    plan = _layer_plan(entries, source)
    _check_declared_size(plan, config, source, weights_bytes)
    model = classes["Sequential"](name=config.get("name") if isinstance(config.get("name"), str) else None)
    for translator, layer_config, where in plan:
        layer = translator.from_keras(layer_config, classes, where)
        try:
            model.add(layer)
        except (TypeError, ValueError) as e:
            raise UnsupportedConfigError(f"{where}: {e}") from None
    if not model.built:
        shape = config.get("build_input_shape")
        if shape is not None:
            model.build(tuple(None if d is None else d for d in shape))
    return model


def check_declared_size(config, source: str, weights_bytes: int) -> None:
    """For a Sequential config (Keras's or hookfit's own): refuse a model
    whose declared parameters exceed the bound or the weight data present."""
    entries = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        raise UnsupportedConfigError(f"{source}: the model config has no list of layers.")
    _check_declared_size(_layer_plan(entries, source), config, source, weights_bytes)


def _layer_plan(entries, source: str) -> list:
    """[(translator, layer config, where)] for the serialised layers."""
    plan = []
    for i, entry in enumerate(entries):
        name = (entry.get("config") or {}).get("name", "?") if isinstance(entry, dict) else "?"
        where = f"{source}, layer {i} ({name})"
        plan.append((keras_layers.translator_for_config(entry, where), entry["config"], where))
    return plan


def _check_declared_size(plan, config, source, weights_bytes) -> None:
    """Count the parameters from the configs alone, before anything exists."""
    fan_in = None
    shape = config.get("build_input_shape")
    if shape is not None:
        fan_in = keras_layers.feature_count_of(shape, source)
    total = 0
    for translator, layer_config, where in plan:
        if isinstance(translator, keras_layers.InputLayerTranslator):
            fan_in = keras_layers.feature_count_of(
                layer_config.get("batch_shape") or layer_config.get("batch_input_shape"), where
            )
            continue
        declared = layer_config.get("batch_input_shape") or layer_config.get("batch_shape")
        if declared is not None:
            fan_in = keras_layers.feature_count_of(declared, where)
        if fan_in is None:
            raise UnsupportedConfigError(f"{where}: the input width is not given, so the model cannot be built.")
        count, fan_in = translator.parameter_count(layer_config, fan_in, where)
        total += count
        check_parameter_count(total, source)
    check_fits_in(total * 4, weights_bytes, source)


# -- compile settings ----------------------------------------------------------

_OPTIMIZER_SETTINGS_REFUSED = ("loss_scale_factor", "gradient_accumulation_steps")
_OPTIMIZER_SETTINGS_IGNORED = ("jit_compile", "is_legacy_optimizer", "decay")
# Keras's optimizer settings hookfit's get_config may leave out, with Keras's defaults.
_OPTIMIZER_DEFAULTS = dict(weight_decay=None, clipnorm=None, global_clipnorm=None, clipvalue=None,
                           use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None)


def optimizer_to_keras(optimizer, keras: int) -> dict:
    config = optimizer.get_config()
    lr = config["learning_rate"]
    if isinstance(lr, dict):  # a schedule: Keras 3 names its module
        config["learning_rate"] = ({"module": "keras.optimizers.schedules", "registered_name": None, **lr}
                                   if keras == 3 else lr)
    else:
        config["learning_rate"] = float(lr)
    for key, value in _OPTIMIZER_DEFAULTS.items():
        config.setdefault(key, value)
    if keras == 3:
        config["name"] = str(config.get("name", type(optimizer).__name__)).lower()
        config.update(loss_scale_factor=None, gradient_accumulation_steps=None)
        return {"module": "keras.optimizers", "class_name": type(optimizer).__name__, "config": config,
                "registered_name": None}
    config.update(jit_compile=False, is_legacy_optimizer=False)
    return {"class_name": type(optimizer).__name__, "config": config}


def optimizer_from_keras(entry, optimizers, source: str):
    """A hookfit optimizer from Keras's serialised one (refusing settings it lacks)."""
    if isinstance(entry, str):
        return optimizers.get(entry)
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise UnsupportedConfigError(f"{source}: the optimizer entry {entry!r:.200} is not understood.")
    class_name = str(entry.get("class_name", "")).split(">")[-1]
    config = dict(entry["config"])
    for key in _OPTIMIZER_SETTINGS_REFUSED:
        if config.pop(key, None) not in (None, False, 1):
            raise UnsupportedConfigError(f"{source}: optimizer {class_name} setting {key} is not supported by hookfit.")
    for key in _OPTIMIZER_SETTINGS_IGNORED:
        config.pop(key, None)
    try:
        return optimizers.get({"class_name": class_name, "config": config})
    except (TypeError, ValueError) as e:
        raise UnsupportedConfigError(f"{source}: optimizer {class_name}: {e}") from None


def _named(entry, kind: str, module, source: str):
    """A loss or metric from a name or a serialised built-in object."""
    if entry is None or isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        class_name = entry.get("class_name")
        cls = getattr(module, str(class_name), None)
        if isinstance(cls, type) and entry.get("registered_name") in (None, class_name):
            try:
                return cls(**dict(entry.get("config") or {}))
            except (TypeError, ValueError) as e:
                raise UnsupportedConfigError(f"{source}: {kind} {class_name}: {e}") from None
        if class_name == "MeanMetricWrapper" and isinstance((entry.get("config") or {}).get("fn"), str):
            return entry["config"]["fn"]
    raise UnsupportedConfigError(f"{source}: the {kind} {entry!r:.200} is not one hookfit has.")


def compile_arguments(compile_config: dict, source: str, *, keras: int) -> dict:
    """``compile`` keyword arguments from Keras 3's ``compile_config`` or
    Keras 2's ``training_config``."""
    from hookfit import losses, metrics, optimizers

    if not isinstance(compile_config, dict):
        raise UnsupportedConfigError(f"{source}: the compile config is not a JSON object.")
    optimizer = compile_config.get("optimizer" if keras == 3 else "optimizer_config")
    for key in ("loss_weights", "weighted_metrics"):
        if compile_config.get(key):
            raise UnsupportedConfigError(f"{source}: compile setting {key} is not supported by hookfit.")
    metric_list = compile_config.get("metrics") or []
    flat = []
    for item in metric_list:  # Keras 2 nests metrics per output
        flat.extend(item if isinstance(item, list) else [item])
    names = [_named(m, "metric", metrics, source) for m in flat]
    try:
        metrics.normalize(names)
    except (TypeError, ValueError) as e:
        # A custom metric is stored by name only, as Keras stores it.
        raise UnsupportedConfigError(
            f"{source}: its compile settings name a metric hookfit does not have ({e}). A custom "
            "metric is saved by name only: load with compile=False, then call compile() with it."
        ) from None
    arguments = {
        "optimizer": optimizer_from_keras(optimizer, optimizers, source) if optimizer is not None else "rmsprop",
        "loss": _named(compile_config.get("loss"), "loss", losses, source),
        "metrics": names or None,
    }
    if keras == 3 and compile_config.get("steps_per_execution", 1) != 1:
        arguments["steps_per_execution"] = compile_config["steps_per_execution"]  # compile checks it
    return arguments


def compile_to_keras(model, keras: int) -> dict | None:
    """Keras 3's ``compile_config`` / Keras 2's ``training_config``."""
    get = getattr(model, "get_compile_config", None)
    settings = get() if get is not None else None
    if not settings or getattr(model, "optimizer", None) is None:
        return None
    loss = settings["loss"]
    if keras == 3:
        return {
            "optimizer": optimizer_to_keras(model.optimizer, 3),
            "loss": loss,
            "loss_weights": None,
            "metrics": list(settings["metrics"]) or None,
            "weighted_metrics": None,
            "run_eagerly": False,
            "steps_per_execution": settings.get("steps_per_execution", 1),
            "jit_compile": False,
        }
    return {
        "loss": loss,
        "metrics": [list(settings["metrics"])] if settings["metrics"] else None,
        "weighted_metrics": None,
        "loss_weights": None,
        "optimizer_config": optimizer_to_keras(model.optimizer, 2),
    }
