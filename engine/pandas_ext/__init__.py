"""pandas and scikit-learn adapters: ``import engine.pandas_ext`` registers ``df.finveil``.

This is the one FinVeil module with an import-time side effect (STYLE.md section 5 keeps
the core free of them): importing it registers the ``finveil`` DataFrame accessor with
pandas. Nothing else imports it, so the core and the CLI never register the accessor.
"""

import pandas as pd

from engine.pandas_ext._accessor import FinVeilAccessor
from engine.pandas_ext._transformer import TokenizeTransformer

__all__ = ["FinVeilAccessor", "TokenizeTransformer"]

# The intended side effect of importing this adapter (see the module docstring).
pd.api.extensions.register_dataframe_accessor("finveil")(FinVeilAccessor)
