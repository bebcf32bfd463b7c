"""Labels for the model's reason codes (the codes come with every score)."""

LABELS = {
    "queda_visitas": "Queda nas visitas",
    "inatividade": "Sem vir há dias",
    "baixa_frequencia": "Baixa frequência",
    "fim_contrato": "Contrato perto do fim",
    "pouco_tempo_de_casa": "Pouco tempo de casa",
    "irregularidade": "Frequência irregular",
    "treinos_curtos": "Treinos curtos",
}


def label(code: str) -> str:
    return LABELS.get(code, code.replace("_", " ").capitalize())
