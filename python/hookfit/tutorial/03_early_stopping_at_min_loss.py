"""Tutorial example 3: stop training when the loss stops decreasing (self.model.stop_training).

The Keras callback tutorial's code; only the import, the data loading and
``np.Inf`` (removed in NumPy 2) -> ``np.inf`` differ.
Run: python examples/03_early_stopping_at_min_loss.py (a link to this file);
``python -m hookfit.demo`` runs all four.
"""

import sys

import hookfit as keras
from hookfit.datasets import mnist_or_digits


def get_model():
    model = keras.Sequential()
    model.add(keras.layers.Dense(1, input_dim=784))
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


# 加载 MNIST 数据集，并预处理
# hookfit never downloads: MNIST if the user has it, else the embedded digits.
# Which one is said on stderr, so stdout is exactly the tutorial's.
print(f"[data] {mnist_or_digits.describe()}", file=sys.stderr)
(x_train, y_train), (x_test, y_test) = mnist_or_digits.load_data()
x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
x_test = x_test.reshape(-1, 784).astype("float32") / 255.0

# 只取前 1000 个样本
x_train = x_train[:1000]
y_train = y_train[:1000]
x_test = x_test[:1000]
y_test = y_test[:1000]


class LossAndErrorPrintingCallback(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_test_batch_end(self, batch, logs=None):
        print(
            "Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"])
        )

    def on_epoch_end(self, epoch, logs=None):
        print(
            "The average loss for epoch {} is {:7.2f} "
            "and mean absolute error is {:7.2f}.".format(
                epoch, logs["loss"], logs["mean_absolute_error"]
            )
        )


import numpy as np


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """在 loss 达到最小时（即 loss 停止减少时）终止训练。

  Arguments:
      patience: 达到最小 loss 后等待的 epoch 数，在这些 epoch 后如果没有改进，终止训练。
  """
    def __init__(self, patience=0):
        super(EarlyStoppingAtMinLoss, self).__init__()
        self.patience = patience
        # best_weights 用来保存最佳权重
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # The number of epoch it has waited when loss is no longer minimum.
        self.wait = 0
        # 训练在该 epoch 后终止
        self.stopped_epoch = 0
        # 初始化最佳 loss
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best): # 当前 loss 更小
            self.best = current
            self.wait = 0
            # 当前结果更好，所以更新最佳 weights
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print("Epoch %05d: early stopping" % (self.stopped_epoch + 1))


model = get_model()
model.fit(
    x_train,
    y_train,
    batch_size=64,
    steps_per_epoch=5,
    epochs=30,
    verbose=0,
    callbacks=[LossAndErrorPrintingCallback(), EarlyStoppingAtMinLoss()],
)
