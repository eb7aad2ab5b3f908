"""Bulk import and export of the estate (sites, devices, links, information systems and
maintenance contracts) as CSV and XLSX.

The public interface; see docs/import.md for the file format and the rules.
"""

from branchops.cmdb.importing.command import cli_export, cli_import
from branchops.cmdb.importing.exporting import export_kind, template
from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.report import ImportReport, RowError
from branchops.cmdb.importing.spec import Column, Kind
from branchops.cmdb.importing.upload import import_upload

__all__ = [
    "KINDS",
    "Column",
    "ImportReport",
    "Kind",
    "RowError",
    "cli_export",
    "cli_import",
    "export_kind",
    "import_upload",
    "template",
]
