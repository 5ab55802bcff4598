"""The analysts' dashboard (Streamlit): review queue, application review, portfolio and model monitoring.

Pages read and write only through :mod:`agrisense.lending` and the county re-score outputs; the helper modules
here (``config``, ``data``, ``rescore``, ``drift``, ``maps``, ``charts``, ``views``) hold everything that is not
Streamlit layout, so it can be tested without a browser.
"""
