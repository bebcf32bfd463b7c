{#-
  A day's attendance totals, written once: the columns of the mart fct_attendance_daily (one row
  per gym-local day, built nightly from int_visits) and the totals of the daily report
  (serving/reports.py, from the app tables so that today's report is current). The API renders
  this file with Jinja and dbt loads it as a macro (macro-paths), like pair_visits.sql.

  An aggregate select list over the rows of pair_visits (evento, aluno_id, saida,
  duracao_minutos) of the day; the caller groups (the mart by data_local, the report over its
  one day). The day of a row is the gym-local day of its key event, coalesce(entrada, saida).
    - count_visitas: the visits that started that day;
    - count_alunos_distintos: the members with a visit that day;
    - duracao_media_minutos: average length of the visits with an exit;
    - count_visitas_sem_saida: visits with no exit within the pairing's reach (or in progress);
    - count_saidas_sem_entrada: exits with no entry (pairing anomalies).
-#}
{% macro attendance_totals() -%}
cast(count(*) filter (where evento = 'visita') as integer) as count_visitas,
cast(count(distinct aluno_id) filter (where evento = 'visita') as integer)
    as count_alunos_distintos,
cast(round(avg(duracao_minutos) filter (where evento = 'visita'), 1) as numeric(10, 1))
    as duracao_media_minutos,
cast(count(*) filter (where evento = 'visita' and saida is null) as integer)
    as count_visitas_sem_saida,
cast(count(*) filter (where evento = 'saida_sem_entrada') as integer)
    as count_saidas_sem_entrada
{%- endmacro %}
