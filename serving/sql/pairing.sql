{#-
  The visit pairing's two numbers, written once. dbt loads this file as macros (dbt_project.yml
  lists this folder under macro-paths) and the API renders the same macros with Jinja
  (serving/visits.py reads the numbers from here for its Python timedeltas).

  - pairing_reach: an exit closes the entry before it only within this reach;
  - double_tap_window: a tap of the same type as the previous one within this window is a
    double tap (dropped);
  - pairing_lookback: reach + double-tap window. The pairing of an event at t depends only on
    the events from t - lookback on (its entry within the reach, and whether that entry was
    itself a double tap), so whoever pairs a range reads events from this far before it.
-#}
{% macro pairing_reach_hours() -%} 6 {%- endmacro %}

{% macro double_tap_minutes() -%} 2 {%- endmacro %}

{% macro pairing_reach() -%}
    interval '{{ pairing_reach_hours() }} hours'
{%- endmacro %}

{% macro double_tap_window() -%}
    interval '{{ double_tap_minutes() }} minutes'
{%- endmacro %}

{% macro pairing_lookback() -%}
    interval '{{ pairing_reach_hours() }} hours {{ double_tap_minutes() }} minutes'
{%- endmacro %}
