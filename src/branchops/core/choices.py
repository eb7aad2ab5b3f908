"""Choices shared by every BranchOps app."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a person does in the operations team; decides what they may see and change."""

    ADMIN = "admin", _("Administrator")
    NOC_OPERATOR = "noc_operator", _("NOC operator")
    OPS_ENGINEER = "ops_engineer", _("Operations engineer")
    TECHNICAL_EXPERT = "technical_expert", _("Technical expert")
    BRANCH_LIAISON = "branch_liaison", _("Branch liaison")
    AUDITOR = "auditor", _("Auditor")


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    WRITE = "write", _("Read and write")


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Login failed")
    LOCKED_OUT = "locked_out", _("Locked out")
    TOKEN_CREATED = "token_created", _("API token created")
    TOKEN_REVOKED = "token_revoked", _("API token revoked")
    IMPORT = "import", _("Imported")


class ChangeSource(models.TextChoices):
    """Where a change came from, so the audit trail can tell a click from a script."""

    UI = "ui", _("Web UI")
    API = "api", _("REST API")
    CLI = "cli", _("Command line")
    IMPORT = "import", _("Bulk import")
    SYSTEM = "system", _("System")


class CalendarKind(models.TextChoices):
    ALWAYS = "24x7", _("Around the clock (7x24)")
    WORKDAYS = "workdays", _("Chinese working days (5x8)")
    TRADING = "trading", _("Exchange trading sessions")
