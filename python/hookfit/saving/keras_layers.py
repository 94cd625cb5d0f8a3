"""Layer translation between hookfit layers and Keras layer configs.

One translator per layer class, in a table (``TRANSLATORS``: Keras class
name -> translator). A translator turns a hookfit layer into the config
Keras 3 (``.keras``) or Keras 2 (legacy ``.h5``) writes for it, and a Keras
config back into a hookfit layer, refusing settings hookfit does not have
with a message naming the layer and the setting. New layer classes plug in
by adding a translator to the table.

The hookfit classes themselves come from the caller (``classes``: class name
-> class), so this package does not import ``hookfit.models``.
"""

from __future__ import annotations

import numbers

from hookfit import regularizers
from hookfit.layers import dense as dense_module
from hookfit.saving.file_errors import UnsafeFileError, UnsupportedConfigError
from hookfit.saving.limits import MAX_PARAMETERS

_DTYPE_POLICY = {
    "module": "keras",
    "class_name": "DTypePolicy",
    "config": {"name": "float32"},
    "registered_name": None,
}

# Keras initializer classes <-> the names hookfit accepts.
_INITIALIZERS = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal",
    "zeros": "Zeros",
    "ones": "Ones",
    "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal",
    "orthogonal": "Orthogonal",
    "identity": "Identity",
}
_INITIALIZER_NAMES = {v: k for k, v in _INITIALIZERS.items()}

# Keras's safe_mode spirit: these classes carry code; never rebuilt from a file.
_CODE_CARRYING = {"Lambda", "TFOpLambda", "SlicingOpLambda", "Function", "__lambda__"}


def _serialized(module: str, class_name: str, config: dict, keras: int) -> dict:
    if keras == 2:
        return {"class_name": class_name, "config": config}
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def initializer_to_keras(value, keras: int):
    from hookfit import initializers  # one implementation of the configs

    try:
        spec = initializers.serialize(value)
    except ValueError:  # a plain function: the weights are in the file anyway
        spec = initializers.serialize("glorot_uniform")
    return _serialized("keras.initializers", spec["class_name"], spec["config"], keras)


def initializer_from_keras(value, where: str):
    from hookfit import initializers

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        try:
            initializer = initializers.deserialize(value)
        except ValueError as e:
            raise UnsupportedConfigError(f"{where}: {e}") from None
        # A default-configured one stays a name, as hookfit's layers keep them.
        name = _INITIALIZER_NAMES.get(str(value.get("class_name")))
        if name is not None and initializer.get_config() == initializers.get(name).get_config():
            return name
        return initializer
    raise UnsupportedConfigError(f"{where}: initializer {value!r} is not supported by hookfit.")


def _activation_from_keras(value, where: str):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("config"), str):
        return value["config"]  # Keras 3 serialises some activations this way
    raise UnsupportedConfigError(
        f"{where}: activation {value!r} is not a built-in name; custom activations carry code "
        "and are refused."
    )


def check_units(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise UnsupportedConfigError(f"{where}: units must be a positive integer; got {value!r}.")
    if int(value) > MAX_PARAMETERS:
        raise UnsafeFileError(f"{where}: units={value:,} exceeds hookfit's bound; nothing was allocated.")
    return int(value)


def feature_count_of(shape, where: str) -> int:
    """The features of a ``batch_shape``/``batch_input_shape`` such as [null, 5]."""
    if not isinstance(shape, (list, tuple)) or len(shape) != 2:
        raise UnsupportedConfigError(
            f"{where}: input shape {shape!r} is not (batch, features); hookfit's models take flat "
            "feature vectors."
        )
    return check_units(shape[1], where)


class DenseTranslator:
    keras_class = "Dense"
    hookfit_class = "Dense"
    weight_names = ("kernel", "bias")
    # Keras settings hookfit has no counterpart for: refused unless at their default.
    _UNSUPPORTED = (*dense_module._CONSTRAINTS, "quantization_config", "lora_rank")
    _REGULARIZERS = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")

    def to_keras(self, layer, keras: int) -> dict:
        config = {
            "name": layer.name,
            "trainable": layer.trainable,
            "dtype": _DTYPE_POLICY if keras == 3 else "float32",
            "units": layer.units,
            "activation": layer.activation or "linear",
            "use_bias": layer.use_bias,
            "kernel_initializer": initializer_to_keras(layer.kernel_initializer, keras),
            "bias_initializer": initializer_to_keras(layer.bias_initializer, keras),
            "kernel_constraint": None,
            "bias_constraint": None,
        }
        for key in self._REGULARIZERS:
            value = regularizers.serialize(getattr(layer, key))
            config[key] = None if value is None else _serialized(
                "keras.regularizers", value["class_name"], value["config"], keras)
        return config

    def from_keras(self, config: dict, classes: dict, where: str):
        for key in self._UNSUPPORTED:
            if config.get(key) not in (None, 0):
                raise UnsupportedConfigError(
                    f"{where}: {key}={config[key]!r} is not supported by hookfit."
                )
        kwargs = {
            "trainable": config.get("trainable", True) is not False,
            "units": check_units(config.get("units"), where),
            "activation": _activation_from_keras(config.get("activation"), where),
            "use_bias": bool(config.get("use_bias", True)),
            "kernel_initializer": initializer_from_keras(config.get("kernel_initializer", "glorot_uniform"), where),
            "bias_initializer": initializer_from_keras(config.get("bias_initializer", "zeros"), where),
        }
        for key in self._REGULARIZERS:
            try:
                kwargs[key] = regularizers.get(config.get(key))
            except ValueError as e:
                raise UnsupportedConfigError(f"{where}: {key}: {e}") from None
        shape = config.get("batch_input_shape") or config.get("batch_shape")
        if shape is not None:
            kwargs["input_dim"] = feature_count_of(shape, where)
        if isinstance(config.get("name"), str):
            kwargs["name"] = config["name"]
        try:
            return classes["Dense"](**kwargs)
        except (TypeError, ValueError) as e:
            raise UnsupportedConfigError(f"{where}: {e}") from None

    def parameter_count(self, config: dict, fan_in: int, where: str) -> tuple[int, int]:
        """(parameters, output width) for ``fan_in`` inputs, from the config
        alone: checked before any layer is built."""
        units = check_units(config.get("units"), where)
        return fan_in * units + (units if config.get("use_bias", True) else 0), units


def input_config(features: int, name: str, keras: int) -> dict:
    """An InputLayer config: Keras 2 says ``batch_input_shape``, Keras 3 ``batch_shape``."""
    config = {"dtype": "float32", "sparse": False, "ragged": False, "name": name}
    if keras == 2:
        config["batch_input_shape"] = [None, features]
    else:
        config.update(batch_shape=[None, features], optional=False)
    return config


class InputLayerTranslator:
    keras_class = "InputLayer"
    hookfit_class = "InputLayer"
    weight_names = ()

    def to_keras(self, layer, keras: int) -> dict:
        return input_config(layer.input_dim, layer.name, keras)

    def from_keras(self, config: dict, classes: dict, where: str):
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if config.get("sparse") or config.get("ragged"):
            raise UnsupportedConfigError(f"{where}: sparse or ragged inputs are not supported by hookfit.")
        kwargs = {"input_shape": (feature_count_of(shape, where),)}
        if isinstance(config.get("name"), str):
            kwargs["name"] = config["name"]
        return classes["InputLayer"](**kwargs)


class ConstructorArgsTranslator:
    """A layer whose Keras constructor arguments are its hookfit attributes
    of the same names (Dropout, Activation, Flatten, Add, ...).

    ``keras3_names``: hookfit argument -> Keras 3's name where they differ
    (LeakyReLU's alpha is Keras 3's negative_slope). ``at_default``: Keras
    settings hookfit has no counterpart for, accepted (and dropped) only at
    these values."""

    def __init__(self, keras_class, args, weight_names=(), defaults=None, keras3_names=None, at_default=None):
        self.keras_class = self.hookfit_class = keras_class
        self.args = tuple(args)
        self.weight_names = tuple(weight_names)
        self.defaults = dict(defaults or {})
        self.keras3_names = dict(keras3_names or {})
        self.at_default = dict(at_default or {})

    def to_keras(self, layer, keras: int) -> dict:
        config = {"name": layer.name, "trainable": layer.trainable,
                  "dtype": _DTYPE_POLICY if keras == 3 else "float32"}
        own = layer.get_config()  # Keras's argument names and values
        for arg in self.args:
            value = own.get(arg, self.defaults.get(arg))
            if arg.endswith("_initializer") and value is not None:
                value = initializer_to_keras(value, keras)
            config[self.keras3_names.get(arg, arg) if keras == 3 else arg] = value
        config.update(self.at_default)
        return config

    def from_keras(self, config: dict, classes: dict, where: str):
        cls = classes.get(self.hookfit_class)
        if cls is None:
            raise UnsupportedConfigError(f"{where}: hookfit has no {self.keras_class} layer.")
        config = dict(config)
        for arg, keras3_name in self.keras3_names.items():
            if keras3_name in config:
                config[arg] = config.pop(keras3_name)
        for key, default in self.at_default.items():
            if key in config and config.pop(key) not in (default, None):
                raise UnsupportedConfigError(
                    f"{where}: {key}={config.get(key, '...')!r} is not supported by hookfit (only {default!r})."
                )
        known = set(self.args) | {"name", "trainable", "dtype"}
        extra = sorted(k for k, v in config.items() if k not in known and v is not None)
        if extra:
            raise UnsupportedConfigError(f"{where}: the settings {extra} are not supported by hookfit.")
        kwargs = {arg: config[arg] for arg in self.args if arg in config}
        for arg in kwargs:
            if arg.endswith("_initializer"):
                kwargs[arg] = initializer_from_keras(kwargs[arg], where)
            elif arg.endswith(("_regularizer", "_constraint")) and kwargs[arg] is not None:
                raise UnsupportedConfigError(f"{where}: {arg}={kwargs[arg]!r:.100} is not supported by hookfit.")
        kwargs["trainable"] = config.get("trainable", True) is not False
        if isinstance(config.get("name"), str):
            kwargs["name"] = config["name"]
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as e:
            raise UnsupportedConfigError(f"{where}: {e}") from None

    def parameter_count(self, config: dict, fan_in: int, where: str) -> tuple[int, int]:
        per_feature = len(self.weight_names)
        return per_feature * fan_in, fan_in


TRANSLATORS = {
    "Dense": DenseTranslator(),
    "InputLayer": InputLayerTranslator(),
    # Layers the functional work adds; each plugs in once its class exists.
    "Dropout": ConstructorArgsTranslator("Dropout", ("rate", "noise_shape", "seed")),
    "Activation": ConstructorArgsTranslator("Activation", ("activation",)),
    "Flatten": ConstructorArgsTranslator("Flatten", ("data_format",)),
    "Add": ConstructorArgsTranslator("Add", ()),
    "Concatenate": ConstructorArgsTranslator("Concatenate", ("axis",)),
    "BatchNormalization": ConstructorArgsTranslator(
        "BatchNormalization",
        ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
         "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
         "beta_constraint", "gamma_constraint"),
        weight_names=("gamma", "beta", "moving_mean", "moving_variance"),
        at_default={"synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99},
    ),
    "ReLU": ConstructorArgsTranslator("ReLU", ("max_value", "negative_slope", "threshold"),
                                      defaults={"max_value": None, "negative_slope": 0.0, "threshold": 0.0}),
    "LeakyReLU": ConstructorArgsTranslator("LeakyReLU", ("alpha",), keras3_names={"alpha": "negative_slope"}),
    "ELU": ConstructorArgsTranslator("ELU", ("alpha",)),
    "Softmax": ConstructorArgsTranslator("Softmax", ("axis",)),
    "Normalization": ConstructorArgsTranslator(
        "Normalization", ("axis", "mean", "variance", "invert"), weight_names=("mean", "variance", "count")
    ),
}


def translator_for_config(entry, where: str):
    """The translator for a serialised layer ``{"class_name": ..., "config": ...}``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise UnsupportedConfigError(f"{where}: a layer entry must be a dict with a 'config'; got {entry!r:.200}.")
    class_name = entry.get("class_name")
    if class_name in _CODE_CARRYING:
        raise UnsafeFileError(
            f"{where}: a {class_name} layer holds Python code; hookfit never runs code from a file "
            "(Keras refuses it too unless safe_mode=False). Rebuild the model in code and load "
            "its weights instead."
        )
    if entry.get("registered_name") not in (None, class_name) or (
        entry.get("module") not in (None, "keras.layers", "keras.src.layers", "keras")
    ):
        raise UnsafeFileError(
            f"{where}: {entry.get('registered_name') or class_name!r} is a custom class "
            f"(module {entry.get('module')!r}); custom classes are never loaded from a file."
        )
    translator = TRANSLATORS.get(str(class_name))
    if translator is None:
        raise UnsupportedConfigError(
            f"{where}: the layer class {class_name!r} is not supported by hookfit (supported: "
            f"{sorted(TRANSLATORS)})."
        )
    return translator


def translator_for_layer(layer):
    translator = TRANSLATORS.get(type(layer).__name__)
    if translator is None:
        raise UnsupportedConfigError(
            f"layer {getattr(layer, 'name', layer)!r} ({type(layer).__name__}) has no Keras file "
            "translation in hookfit.saving.keras_layers.TRANSLATORS."
        )
    return translator
