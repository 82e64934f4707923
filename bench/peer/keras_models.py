"""The homework's Keras 3 models, written as a homework notebook would (channels last, Keras'
automatic layer names): what `zoo import model.weights.h5` reads. Each returns logits (no
final softmax/sigmoid); an activation inside a Keras layer is not part of its weights, so a
notebook model ending in `activation="softmax"` imports the same way."""

import keras
from keras import layers


def conv_gap():
    inputs = keras.Input((3, 3, 1))
    x = layers.Conv2D(1, 2, use_bias=False)(inputs)
    return keras.Model(inputs, layers.GlobalAveragePooling2D()(x))


def conv1d_classifier():
    inputs = keras.Input((500, 7))
    x = inputs
    for filters, kernel in [(16, 3), (32, 5), (64, 5)]:
        x = layers.Conv1D(filters, kernel, activation="relu")(x)
        x = layers.MaxPooling1D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(5)(x))


def binary_cnn():
    inputs = keras.Input((256, 256, 1))
    x = layers.Rescaling(1.0 / 255)(inputs)
    for filters, kernel, rate in [(16, 5, 0.5), (32, 5, 0.4), (64, 3, 0.3), (128, 3, 0.2)]:
        x = layers.Conv2D(filters, kernel, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Dropout(rate)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(1)(x))


def pointwise_conv():
    inputs = keras.Input((28, 28, 64))
    return keras.Model(inputs, layers.Conv2D(32, 1, activation="relu")(inputs))


def cifar_inception():
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    b1 = layers.Conv2D(64, 1, activation="relu")(x)
    b3 = layers.Conv2D(96, 1, activation="relu")(x)
    b3 = layers.Conv2D(128, 3, padding="same", activation="relu")(b3)
    b5 = layers.Conv2D(16, 1, activation="relu")(x)
    b5 = layers.Conv2D(32, 5, padding="same", activation="relu")(b5)
    bp = layers.MaxPooling2D(3, strides=1, padding="same")(x)
    bp = layers.Conv2D(32, 1, activation="relu")(bp)
    x = layers.Concatenate()([b1, b3, b5, bp])
    x = layers.Conv2D(128, 3, strides=2, activation="relu")(x)
    x = layers.Conv2D(256, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10)(x))


KERAS_MODELS = {
    "conv-gap": conv_gap,
    "conv1d-classifier": conv1d_classifier,
    "binary-cnn": binary_cnn,
    "pointwise-conv": pointwise_conv,
    "cifar-inception": cifar_inception,
}
