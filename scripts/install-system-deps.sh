#!/usr/bin/env bash
# Installs the Debian packages the tests run for real, when they are missing:
# headless Chromium and its driver for the browser tests; net-snmp's agent and tools for the
# SNMP tests; VictoriaMetrics, dnsmasq (a real DNS server) and nftables (the lab drops ICMP
# to a "down" device for real). With "bench", also what the benchmarks drive or compare
# against: wrk, fping, prometheus-snmp-exporter, prometheus-blackbox-exporter and
# prometheus-alertmanager.
set -euo pipefail
need=()
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
if [ "${1:-}" = "bench" ]; then
  has wrk || need+=(wrk)
  has fping || need+=(fping)
  has prometheus-snmp-exporter || need+=(prometheus-snmp-exporter)
  has prometheus-blackbox-exporter || need+=(prometheus-blackbox-exporter)
  has prometheus-alertmanager || need+=(prometheus-alertmanager)
fi
has victoria-metrics || need+=(victoria-metrics)
has dnsmasq || need+=(dnsmasq-base)
has nft || need+=(nftables)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v snmpd >/dev/null 2>&1 || [ -x /usr/sbin/snmpd ] || need+=(snmpd)
command -v snmpget >/dev/null 2>&1 || need+=(snmp)
[ ${#need[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
