package etcd

import (
	"fmt"
	"maps"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/ksgen/ksgen/generator/internal/fileset"
	"github.com/ksgen/ksgen/generator/plan"
	"github.com/ksgen/ksgen/images"
	"github.com/ksgen/ksgen/templates"
)

// Paths and units on an etcd host.
const (
	EnvFile      = "/etc/etcd.env"
	Unit         = "etcd.service"
	BackupUnit   = "backup-etcd.service"
	BackupTimer  = "backup-etcd.timer"
	BackupScript = "etcd-backup.sh" // in spec.etcd.backupScript, KubeKey's /usr/local/bin/kube-scripts
	// ClusterToken is KubeKey's ETCD_INITIAL_CLUSTER_TOKEN.
	ClusterToken = "k8s_etcd"
)

// KubeKey's values for the tuning fields a spec leaves unset.
const (
	DefaultElectionTimeout         = 5000
	DefaultHeartbeatInterval       = 250
	DefaultAutoCompactionRetention = 8
	DefaultSnapshotCount           = 10000
	DefaultMetrics                 = "basic"
)

// envVar is one line of the environment file.
type envVar struct{ Name, Value string }

// envData is what etcd.env.tmpl prints, in three blocks.
type envData struct {
	Name    string
	Cluster []envVar
	TLS     []envVar
	CLI     []envVar
}

// unitData is what etcd.service.tmpl prints.
type unitData struct {
	EnvFile string
	Binary  string
}

// backupData is what etcd-backup.sh.tmpl and the backup units print.
type backupData struct {
	Name     string
	Etcdctl  string
	Endpoint string
	CACert   string
	Cert     string
	Key      string
	Dir      string
	Keep     int
	Period   int    // minutes, etcd.backupPeriod
	Calendar string // the timer's OnCalendar, plan.Etcd.BackupCalendar
	Script   string
	Unit     string
}

// Render adds etcd.service, /etc/etcd.env and the backup script, service and
// timer to every etcd member when etcd.type is kubekey. Certificates come
// from Secrets.
func Render(c *plan.Cluster, n *plan.Node, p *fileset.Set) error {
	if c.Etcd.Type != plan.EtcdKubeKey || !n.Etcd {
		return nil
	}
	etcdBin, etcdctlBin := binaries(c, n, p)
	envFile, err := templates.Execute("etcd.env.tmpl", env(c, n))
	if err != nil {
		return fmt.Errorf("etcd environment file: %w", err)
	}
	unit, err := templates.Execute("etcd.service.tmpl", unitData{EnvFile: EnvFile, Binary: etcdBin})
	if err != nil {
		return fmt.Errorf("etcd unit: %w", err)
	}
	se := c.Etcd.Settings
	calendar := c.Etcd.BackupCalendar
	if calendar == "" { // validation refuses such a period
		return fmt.Errorf("etcd backup timer: spec.etcd.backupPeriod %d has no calendar", se.BackupPeriod)
	}
	b := backupData{
		Name:     n.Name,
		Etcdctl:  etcdctlBin,
		Endpoint: localClientURL(c, n),
		CACert:   CAFile,
		Cert:     MemberCert(n.Name),
		Key:      MemberKey(n.Name),
		Dir:      se.BackupDir,
		Keep:     se.KeepBackupNumber,
		Period:   se.BackupPeriod,
		Calendar: calendar,
		Script:   path.Join(se.BackupScriptDir, BackupScript),
		Unit:     BackupUnit,
	}
	script, err := templates.Execute("etcd-backup.sh.tmpl", b)
	if err != nil {
		return fmt.Errorf("etcd backup script: %w", err)
	}
	service, err := templates.Execute("etcd-backup.service.tmpl", b)
	if err != nil {
		return fmt.Errorf("etcd backup unit: %w", err)
	}
	timer, err := templates.Execute("etcd-backup.timer.tmpl", b)
	if err != nil {
		return fmt.Errorf("etcd backup timer: %w", err)
	}
	p.AddFile(fileset.File{Path: EnvFile, Mode: fileset.ModePublic, Content: envFile})
	p.AddFile(fileset.File{Path: b.Script, Mode: fileset.ModeExec, Content: script})
	p.AddUnit(fileset.Unit{Name: Unit, Enabled: true, Contents: string(unit)})
	p.AddUnit(fileset.Unit{Name: BackupUnit, Contents: string(service)})
	p.AddUnit(fileset.Unit{Name: BackupTimer, Enabled: true, Contents: string(timer)})
	return nil
}

// binaries returns where etcd and etcdctl are on the node: the path of the
// ksgen document's download of that name when binaries are downloaded, else
// the image's EtcdBinDir. Nodes without kubelet get no other downloads, so
// the etcd ones are added here.
func binaries(c *plan.Cluster, n *plan.Node, p *fileset.Set) (etcd, etcdctl string) {
	dir := images.EtcdBinDir(n.OS)
	etcd, etcdctl = dir+"/etcd", dir+"/etcdctl"
	b := c.Binaries
	if b.Source != "download" {
		return etcd, etcdctl
	}
	for _, d := range b.Downloads {
		switch path.Base(d.Path) {
		case "etcd":
			etcd = d.Path
		case "etcdctl":
			etcdctl = d.Path
		default:
			continue
		}
		if !n.Kubelet { // kubelet nodes get every download from the binaries renderer
			p.AddFile(fileset.File{Path: d.Path, Mode: fileset.ModeExec, Source: d.URL, SHA256: d.SHA256})
		}
	}
	return etcd, etcdctl
}

// env is member n's environment file, in KubeKey's layout and order. The
// spec's extraArgs ("name: value", etcd's flag names) override the variable
// of the same flag or are appended, sorted; etcd reads every flag as
// ETCD_<NAME> and refuses a flag given twice, so they never become flags.
func env(c *plan.Cluster, n *plan.Node) envData {
	se := c.Etcd.Settings
	e := c.Etcd
	peers := make([]string, len(c.EtcdMembers))
	for i, m := range c.EtcdMembers {
		peers[i] = m.Name + "=" + e.PeerURL(m)
	}
	listen := e.ClientURL(n)
	if local := localClientURL(c, n); local != listen {
		listen += "," + local
	}
	d := envData{Name: n.Name}
	d.Cluster = []envVar{
		{"ETCD_NAME", n.Name},
		{"ETCD_DATA_DIR", e.DataDir},
		{"ETCD_ADVERTISE_CLIENT_URLS", e.ClientURL(n)},
		{"ETCD_INITIAL_ADVERTISE_PEER_URLS", e.PeerURL(n)},
		{"ETCD_INITIAL_CLUSTER_STATE", "new"},
		{"ETCD_INITIAL_CLUSTER_TOKEN", ClusterToken},
		{"ETCD_INITIAL_CLUSTER", strings.Join(peers, ",")},
		{"ETCD_LISTEN_CLIENT_URLS", listen},
		{"ETCD_LISTEN_PEER_URLS", e.PeerURL(n)},
		{"ETCD_METRICS", str(se.Metrics, DefaultMetrics)},
		{"ETCD_ELECTION_TIMEOUT", num(se.ElectionTimeout, DefaultElectionTimeout)},
		{"ETCD_HEARTBEAT_INTERVAL", num(se.HeartbeatInterval, DefaultHeartbeatInterval)},
		{"ETCD_AUTO_COMPACTION_RETENTION", num(se.AutoCompactionRetention, DefaultAutoCompactionRetention)},
		{"ETCD_SNAPSHOT_COUNT", num(se.SnapshotCount, DefaultSnapshotCount)},
	}
	optional := []struct {
		name string
		set  bool
		val  string
	}{
		{"ETCD_QUOTA_BACKEND_BYTES", se.QuotaBackendBytes != nil, num64(se.QuotaBackendBytes)},
		{"ETCD_MAX_REQUEST_BYTES", se.MaxRequestBytes != nil, num64(se.MaxRequestBytes)},
		{"ETCD_MAX_SNAPSHOTS", se.MaxSnapshots != nil, num(se.MaxSnapshots, 0)},
		{"ETCD_MAX_WALS", se.MaxWals != nil, num(se.MaxWals, 0)},
		{"ETCD_LOG_LEVEL", se.LogLevel != nil && *se.LogLevel != "", str(se.LogLevel, "")},
	}
	for _, o := range optional {
		if o.set {
			d.Cluster = append(d.Cluster, envVar{o.name, o.val})
		}
	}
	d.TLS = []envVar{
		{"ETCD_TRUSTED_CA_FILE", CAFile},
		{"ETCD_CERT_FILE", MemberCert(n.Name)},
		{"ETCD_KEY_FILE", MemberKey(n.Name)},
		{"ETCD_CLIENT_CERT_AUTH", "true"},
		{"ETCD_PEER_TRUSTED_CA_FILE", CAFile},
		{"ETCD_PEER_CERT_FILE", MemberCert(n.Name)},
		{"ETCD_PEER_KEY_FILE", MemberKey(n.Name)},
		{"ETCD_PEER_CLIENT_CERT_AUTH", "true"},
	}
	// etcdctl's settings: etcd reads only ETCD_-prefixed variables.
	d.CLI = []envVar{
		{"ETCDCTL_ENDPOINTS", localClientURL(c, n)},
		{"ETCDCTL_CACERT", CAFile},
		{"ETCDCTL_CERT", MemberCert(n.Name)},
		{"ETCDCTL_KEY", MemberKey(n.Name)},
	}
	var extra []envVar
	for _, k := range slices.Sorted(maps.Keys(se.ExtraArgs)) {
		v := envVar{flagVar(k), se.ExtraArgs[k]}
		if !override(d.Cluster, v) && !override(d.TLS, v) {
			extra = append(extra, v)
		}
	}
	d.Cluster = append(d.Cluster, extra...)
	return d
}

// flagVar is the environment variable etcd reads a flag from:
// "--max-txn-ops" → ETCD_MAX_TXN_OPS.
func flagVar(flag string) string {
	return "ETCD_" + strings.ToUpper(strings.ReplaceAll(strings.TrimLeft(flag, "-"), "-", "_"))
}

func override(vars []envVar, v envVar) bool {
	for i := range vars {
		if vars[i].Name == v.Name {
			vars[i].Value = v.Value
			return true
		}
	}
	return false
}

// localClientURL is where etcdctl and the backup reach the member from the
// member itself: KubeKey's https://127.0.0.1:port. A member whose address is
// a loopback address (several members on one machine, as in tests) already
// listens there and has no separate local URL; its own URL serves.
func localClientURL(c *plan.Cluster, n *plan.Node) string {
	if a, err := netip.ParseAddr(n.IPv4); err == nil && a.IsLoopback() {
		return c.Etcd.ClientURL(n)
	}
	return "https://127.0.0.1:" + strconv.Itoa(c.Etcd.Port)
}

func str(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

func num(p *int, def int) string {
	if p == nil {
		return strconv.Itoa(def)
	}
	return strconv.Itoa(*p)
}

func num64(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}
