"""Which role sees which page: the navigation is built from it and every page checks it again,
so a page's URL refuses a role the navigation does not offer it. The API checks each action."""

from dataclasses import dataclass

ADMIN, ANALYST, FRONT_DESK = "admin", "analista", "recepcao"


@dataclass(frozen=True)
class PageSpec:
    file: str  # relative to dashboard/app.py; its stem is the URL path
    title: str
    icon: str
    section: str
    roles: tuple[str, ...]

    @property
    def url_path(self) -> str:
        return self.file.rsplit("/", 1)[-1].removesuffix(".py")


ANALYSIS, OPERATIONS = "Análise", "Operação"
PAGES = (
    PageSpec(
        "pages/visao_geral.py", "Visão geral", ":material/dashboard:", ANALYSIS, (ADMIN, ANALYST)
    ),
    PageSpec("pages/risco.py", "Risco de churn", ":material/warning:", ANALYSIS, (ADMIN, ANALYST)),
    PageSpec(
        "pages/aluno.py", "Aluno", ":material/person:", ANALYSIS, (ADMIN, ANALYST, FRONT_DESK)
    ),
    PageSpec(
        "pages/frequencia.py", "Frequência", ":material/calendar_month:", ANALYSIS, (ADMIN, ANALYST)
    ),
    PageSpec("pages/coortes.py", "Coortes", ":material/groups:", ANALYSIS, (ADMIN, ANALYST)),
    PageSpec("pages/modelo.py", "Modelo", ":material/model_training:", ANALYSIS, (ADMIN, ANALYST)),
    PageSpec(
        "pages/recepcao.py", "Recepção", ":material/how_to_reg:", OPERATIONS, (ADMIN, FRONT_DESK)
    ),
    PageSpec("pages/operacoes.py", "Operações", ":material/settings:", OPERATIONS, (ADMIN,)),
)
BY_URL = {page.url_path: page for page in PAGES}


def pages_for(role: str) -> list[PageSpec]:
    return [page for page in PAGES if role in page.roles]
