"""The upload form of the import page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from branchops.cmdb.importing.kinds import KINDS
from branchops.cmdb.importing.report import too_big
from branchops.core.forms import StyledForm


class ImportForm(StyledForm):
    kind = forms.ChoiceField(label=_("What the file holds"), required=False)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK) or XLSX; the first row holds the column headers."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )
    dry_run = forms.BooleanField(label=_("Dry run: check every row, write nothing"), required=False)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        options: list[tuple[str, Any]] = [("", _("Detect from the column headers"))]
        options += [(name, capfirst(str(KINDS[name].label))) for name in kinds]
        field.choices = options

    def clean_file(self) -> UploadedFile[bytes]:
        upload = self.cleaned_data["file"]
        assert isinstance(upload, UploadedFile)
        limit = settings.IMPORT_MAX_BYTES
        # Refused before it is read: Django has spooled a large upload to a temporary file.
        if upload.size is not None and upload.size > limit:
            raise ValidationError(too_big(upload.size, limit), code="too_big")
        return upload
