"""CME tracker.

Children missing education: cases, enquiries, reviews, the EHE register
and the off-rolling watch.
"""

__version__ = "0.1.0"
