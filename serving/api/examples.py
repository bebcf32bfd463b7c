"""Examples shown in the OpenAPI documents, one per public shape."""

from pydantic.json_schema import JsonDict

PLANO: JsonDict = {
    "id": 3,
    "nome": "Anual",
    "descricao": "Contrato de 12 meses, acesso livre",
    "valor_mensal": "89.90",
    "duracao_meses": 12,
    "ativo": True,
}
PLANO_UPDATE: JsonDict = {
    key: PLANO[key] for key in ("nome", "valor_mensal", "duracao_meses", "descricao")
} | {"ativo": True}
ALUNO: JsonDict = {
    "id": 42,
    "aluno_ref": None,
    "nome": "Maria Oliveira",
    "email": "maria.oliveira@example.com",
    "telefone": "+55 11 91234-5678",
    "data_nascimento": "1994-03-17",
    "idade": 32,
    "plano_id": 3,
    "data_matricula": "2026-02-03T10:15:00-03:00",
    "ativo": True,
    "atualizado_em": "2026-11-20T18:02:11-03:00",
}
ALUNO_UPDATE: JsonDict = {
    key: ALUNO[key] for key in ("nome", "email", "plano_id", "telefone", "data_nascimento")
}
STATUS: JsonDict = {
    "ativo": True,
    "ocorrido_em": "2026-02-03T10:15:00-03:00",
    "motivo": "matrícula",
    "registrado_por": "recepcao.centro",
}
ALUNO_DETAIL: JsonDict = ALUNO | {"plano": PLANO, "historico_status": [STATUS]}
STATUS_CHANGE: JsonDict = {"motivo": "mudou de cidade"}
USUARIO: JsonDict = {
    "id": 7,
    "username": "ana.retencao",
    "email": "ana@academia.com.br",
    "nome": "Ana Souza",
    "role": "analista",
    "ativo": True,
    "criado_em": "2026-10-01T09:00:00Z",
}
USUARIO_UPDATE: JsonDict = {"role": "recepcao", "ativo": True}
REFRESH: JsonDict = {"refresh_token": "Jr4w6k0Qm2…"}
# Request examples carry no checkin_id: a fixed one, copied from the docs for another member or
# another moment, would be a conflict (the first event stored under it wins). Without one the
# server generates an id per event; a kiosk sends a new UUID per event and reuses it on retries.
CHECKIN: JsonDict = {"aluno_id": 42, "tipo": "entrada", "ocorrido_em": "2026-11-28T07:31:05-03:00"}
CHECKIN_ACCEPTED: JsonDict = {
    "checkin_id": "7d0f3f0e-7a4b-4b8e-9b7e-2f0c8a9b1c11",
    "aluno_id": 42,
    "tipo": "entrada",
    "ocorrido_em": "2026-11-28T07:31:05-03:00",
    "status": "aceito",
}
CHECKIN_BATCH: JsonDict = {
    "checkins": [
        CHECKIN,
        {"aluno_id": 42, "tipo": "saida", "ocorrido_em": "2026-11-28T08:36:40-03:00"},
    ]
}
CHECKIN_BATCH_ACCEPTED: JsonDict = {
    "aceitos": 2,
    "checkin_ids": ["7d0f3f0e-7a4b-4b8e-9b7e-2f0c8a9b1c11", "0b6e8a52-3f7c-4d0e-a4d2-5f1f7a3c9e20"],
    "duplicados": 0,
    "checkin_ids_duplicados": [],
    "status": "aceito",
}
FREQUENCIA: JsonDict = {
    "aluno_id": 42,
    "inicio": "2026-08-31",
    "fim": "2026-11-28",
    "total_visitas": 31,
    "visitas_com_saida": 29,
    "saidas_sem_entrada": 1,
    "frequencia_semanal": 2.41,
    "duracao_media_minutos": 63.5,
    "ultima_visita": "2026-11-28T10:31:05Z",
    "semanas": [{"semana": "2026-11-23", "visitas": 3}],
    "visitas": [
        {
            "entrada": "2026-11-28T10:31:05Z",
            "saida": "2026-11-28T11:36:40Z",
            "duracao_minutos": 65.6,
        }
    ],
    "page": 1,
    "page_size": 50,
}
RISCO: JsonDict = {
    "aluno_id": 42,
    "probabilidade": 0.71,
    "faixa_risco": "alto",
    "fatores": [
        {
            "fator": "queda_visitas",
            "descricao": "visitas caíram 60% nas últimas 4 semanas",
            "valor": 0.4,
        },
        {"fator": "fim_contrato", "descricao": "contrato vence em 9 dias", "valor": 9},
    ],
    "modelo_nome": "gympulse-churn",
    "modelo_versao": "4",
    "data_referencia": "2026-11-28",
    "calculado_em": "2026-11-29T03:10:00Z",
}
RISCO_ITEM: JsonDict = RISCO | {
    "nome": "Maria Oliveira",
    "telefone": "+55 11 91234-5678",
    "email": "maria.oliveira@example.com",
    "plano_id": 3,
    "plano": "Trimestral",
    "data_matricula": "2026-03-09",
    "fim_contrato": "2026-12-09",
    "dias_desde_ultima_visita": 12,
    "visitas_4_semanas": 3,
    "visitas_8_semanas_anteriores": 15,
    "tendencia_visitas": 0.4,
    "sintetico": False,
}
RISCO_HISTORICO: JsonDict = {
    key: RISCO[key]
    for key in (
        "data_referencia",
        "calculado_em",
        "probabilidade",
        "faixa_risco",
        "modelo_nome",
        "modelo_versao",
        "fatores",
    )
}
DISPOSITIVO: JsonDict = {
    "id": 1,
    "nome": "catraca-entrada-1",
    "local": "Recepção",
    "chave_prefixo": "gpk_c8IqkndR",
    "criado_em": "2026-11-01T08:00:00Z",
    "revogado_em": None,
    "ultimo_uso_em": "2026-11-28T10:31:05Z",
}
DISPOSITIVO_CREATED: JsonDict = DISPOSITIVO | {
    "api_key": "gpk_c8IqkndRRb46Q2BTtbbI-CLEWfCh-FJykFNv3N_ujGY",
    "ultimo_uso_em": None,
}
ATUALIZAR_MODELO: JsonDict = {"data_referencia": "2026-10-31"}
CALCULAR_CHURN: JsonDict = {"data_referencia": "2026-11-28"}
RELATORIO_DIARIO_IN: JsonDict = {"data": "2026-11-27"}
RELATORIO_TOTAIS: JsonDict = {
    "eventos_checkin": 1712,
    "visitas": 842,
    "alunos_presentes": 815,
    "duracao_media_minutos": 58.4,
    "visitas_sem_saida": 14,
    "saidas_sem_entrada": 3,
    "novos_alto_risco": 12,
}
RELATORIO: JsonDict = {
    "data": "2026-11-27",
    "gerado_em": "2026-11-28T00:05:12-03:00",
    "job_id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "totais": RELATORIO_TOTAIS,
}
_VISITAS_POR_HORA: tuple[int, ...] = (0, 0, 0, 0, 0, 6, 88, 121, 74, 41, 30, 27)
_VISITAS_POR_HORA += (45, 38, 22, 25, 34, 71, 109, 70, 31, 9, 1, 0)
RELATORIO_RESUMO: JsonDict = {
    "data": "2026-11-27",
    "fuso_horario": "America/Sao_Paulo",
    "totais": RELATORIO_TOTAIS,
    "por_hora": [
        {"hora": hora, "visitas": visitas, "alunos": visitas}
        for hora, visitas in enumerate(_VISITAS_POR_HORA)
    ],
    "por_plano": [
        {"plano_id": 3, "plano": "Anual", "visitas": 512, "alunos": 497},
        {"plano_id": 1, "plano": "Mensal", "visitas": 330, "alunos": 318},
    ],
}
RELATORIO_DETALHE: JsonDict = RELATORIO | {"resumo": RELATORIO_RESUMO}
JOB_RELATORIO: JsonDict = {
    "id": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "tipo": "relatorio-diario",
    "estado": "queued",
    "progresso": 0.0,
    "mensagem": "waiting for a worker",
    "parametros": {"data": "2026-11-27"},
    "resultado": None,
    "erro": None,
    "solicitado_por": "ana.retencao",
    "criado_em": "2026-11-28T03:00:00Z",
    "iniciado_em": None,
    "terminado_em": None,
}
JOB: JsonDict = {
    "id": "3f9b2c1e-8d4a-4f6b-9c2d-1e5a7b8c9d0e",
    "tipo": "atualizar-modelo",
    "estado": "queued",
    "progresso": 0.0,
    "mensagem": "waiting for a worker",
    "parametros": {"data_referencia": "2026-10-31"},
    "resultado": None,
    "erro": None,
    "solicitado_por": "admin",
    "criado_em": "2026-11-29T03:00:00Z",
    "iniciado_em": None,
    "terminado_em": None,
}
AUDITORIA: JsonDict = {
    "id": 118,
    "ocorrido_em": "2026-11-28T14:05:12-03:00",
    "usuario_id": 3,
    "ator": "recepcao.centro",
    "acao": "aluno.alterado",
    "alvo": "aluno:42",
    "detalhes": {"plano_id": 3, "telefone": "alterado"},
}
STATUS_OUT: JsonDict = {
    "status": "ok",
    "versao": "0.1.0",
    "ambiente": "production",
    "postgres": {"status": "ok", "detalhe": None, "latencia_ms": 1.8},
    "rabbitmq": {"status": "ok", "detalhe": None, "latencia_ms": 6.2},
    "redis": {"status": "ok", "detalhe": None, "latencia_ms": 0.4},
    "filas": [
        {
            "fila": "checkin_queue",
            "mensagens": 0,
            "consumidores": 1,
            "dead_letter": 2,
            "dead_letter_motivos": {"checkin_id_conflict": 1, "unknown_member": 1},
        }
    ],
    "migracao": "0003",
}
CACHE_STATUS: JsonDict = {
    "status": "ok",
    "hits": 1840,
    "misses": 212,
    "taxa_acerto": 0.8967,
    "chaves": 540,
    "memoria_usada": "2.31M",
    "por_tipo": {
        "frequencia": {"hits": 1500, "misses": 180},
        "risco-churn": {"hits": 340, "misses": 32},
    },
    "ttl_segundos": {"frequencia": 43200, "risco-churn": 86400},
    "detalhe": None,
}
HEALTH: JsonDict = {"status": "ok"}
