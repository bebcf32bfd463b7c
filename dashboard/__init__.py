"""The Streamlit dashboard: `gympulse dashboard` serves `dashboard/app.py`.

It imports nothing of serving but `serving.config`; it reads Redis and PostgreSQL (as the read-only
role of migration 0005) through `dashboard.data`, and changes anything only through the API with
the logged-in user's token."""
