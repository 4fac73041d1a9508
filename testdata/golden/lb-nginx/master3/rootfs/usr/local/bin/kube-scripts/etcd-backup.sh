#!/bin/bash
# etcd snapshot of member master3 (ksgen); run by backup-etcd.service
set -euo pipefail
umask 077

ETCDCTL='/usr/local/bin/etcdctl'
ENDPOINT='https://127.0.0.1:2379'
CACERT='/etc/ssl/etcd/ssl/ca.pem'
CERT='/etc/ssl/etcd/ssl/member-master3.pem'
KEY='/etc/ssl/etcd/ssl/member-master3-key.pem'
BACKUP_DIR='/var/backups/kube_etcd'
KEEP=5

name="etcd-$(date -u +%Y-%m-%d-%H-%M-%S)"
part="$BACKUP_DIR/.$name.part"
mkdir -p "$part"
trap 'rm -rf "$part"' EXIT
"$ETCDCTL" --endpoints="$ENDPOINT" --cacert="$CACERT" --cert="$CERT" --key="$KEY" \
  snapshot save "$part/snapshot.db"
mv "$part" "$BACKUP_DIR/$name"
backups=("$BACKUP_DIR"/etcd-*)
if [ "${#backups[@]}" -gt "$KEEP" ]; then
  rm -rf -- "${backups[@]:0:${#backups[@]}-KEEP}"
fi
