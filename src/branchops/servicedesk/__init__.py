"""The service desk: tickets under SLA, on-call, duty and handover, reviews, KPIs."""
