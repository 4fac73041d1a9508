package templates

// JoinWindow is the data of join-window.sh.tmpl, the control planes' keeper
// of the bundle's bootstrap token.
type JoinWindow struct {
	BinDir     string // where kubectl lives on the node's OS
	Kubeconfig string // the admin kubeconfig kubeadm writes
	TokenFile  string // this node's copy of the bundle's token (0600)
	// StateSecret (in kube-system) holds the cluster's current token: seeded
	// from TokenFile when missing, replaced by the operator to rotate.
	StateSecret string
	// Label marks the bootstrap-token Secrets the keeper manages; it
	// deletes every one but the current token's.
	Label string
	// OpenedAnnotation, followed by a token ID, names the state Secret's
	// annotation that records when that token was first installed.
	OpenedAnnotation string
	Description      string // the token's description, as kubeadm init writes it
	Groups           string // the token's auth-extra-groups
	// WindowSeconds is how long after a token is first installed it stays
	// valid; -1 keeps it valid for as long as the keeper runs.
	WindowSeconds int64
	// TTLSeconds is how far ahead an always-open window keeps the token's
	// expiration; 0: no expiration.
	TTLSeconds int64
}

// JoinWindowUnit is the data of the keeper's service and timer.
type JoinWindowUnit struct {
	Script     string // the keeper, for the service
	Kubeconfig string // the service runs only where it exists
	Service    string // the unit the timer starts
}
