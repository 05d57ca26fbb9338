from setuptools import Extension, setup

# The C accelerator is optional: without a compiler monilog installs and runs in pure Python
# (monilog/accelerator.py says how to tell and how to choose).
setup(ext_modules=[Extension("monilog._speedups", ["monilog/_speedups.c"], optional=True)])
