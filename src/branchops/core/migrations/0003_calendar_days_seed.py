from django.db import migrations

from branchops.core import calendars


class Migration(migrations.Migration):
    # The shipped calendars themselves come with the CMDB's reference data (decision 0008).
    dependencies = [("core", "0002_calendar_days"), ("cmdb", "0003_reference_data")]

    operations = [migrations.RunPython(calendars.seed_shipped, migrations.RunPython.noop)]
