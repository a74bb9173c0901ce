"""Training code for curvecast's learned forecasters; the only part of curvecast that uses torch.

Nothing here is imported by ``import curvecast``. Each module imports torch inside its functions,
so that the module itself can be imported (and its prior sampled) without torch installed.

- :mod:`curvecast.train.lcpfn`: LC-PFN's prior, model and training loop; writes the weights that
  :mod:`curvecast.forecast.lcpfn` reads. ``python -m curvecast.train.lcpfn --help``.
"""
