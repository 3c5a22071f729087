"""Suite-wide set-up.

Figures drawn by the tests themselves go to the non-interactive Agg backend. It is
chosen here, in the test process, and not through MPLBACKEND: notebooks executed
by the tests run in their own kernels, which must keep the inline backend so that
their figures become outputs.
"""
import matplotlib

matplotlib.use("Agg")
