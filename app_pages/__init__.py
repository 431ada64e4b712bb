"""Pages and UI-free helpers of the gridsim Streamlit app (``app.py`` is the entry).

Nothing in ``sim/`` imports from here. Modules whose names end in ``_page`` draw with Streamlit;
the others (``i18n``, ``schema_widgets``, ``limits``, ``stats``, ``kpi_view``) are plain Python
and tested without a browser.
"""
