from django.db import migrations

from branchops.servicedesk.migrations import _shipped


class Migration(migrations.Migration):
    dependencies = [
        ("servicedesk", "0001_initial"),
        ("cmdb", "0003_reference_data"),
        ("core", "0003_calendar_days_seed"),
    ]

    operations = [migrations.RunPython(_shipped.load, migrations.RunPython.noop)]
