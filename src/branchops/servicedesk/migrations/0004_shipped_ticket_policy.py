from django.db import migrations

from branchops.servicedesk.migrations import _ticket_policy


class Migration(migrations.Migration):
    dependencies = [("servicedesk", "0003_oncall_duty_ticket_policies")]

    operations = [migrations.RunPython(_ticket_policy.load, migrations.RunPython.noop)]
