# ksgen node image: containerd, runc, CNI plugins, crictl, kubeadm, kubelet,
# kubectl, etcd and helm at pinned versions, every download checked against
# its sha256; the cluster's images pre-pulled into containerd; the CNI,
# KubeSphere and addon assets under /opt/ksgen/assets where the payloads
# expect them. Nothing node-specific: the first-boot payload does that.
#
# Variables: `ksgen images packer-vars -f cluster.yaml > cluster.pkrvars.hcl`,
# then `packer build -var-file=cluster.pkrvars.hcl -only=qemu.node .`.
# The template avoids a `packer { required_plugins }` block so Debian 12's
# packer 1.6.6 (qemu and amazon-ebs built in) validates it; with packer >= 1.7
# install the qemu and amazon plugins first (see README.md).

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes version, like v1.36.3 (kubeadm, kubelet, kubectl)"
}

variable "binaries" {
  type = list(object({
    name   = string
    url    = string
    sha256 = string
    dest   = string
    strip  = number
  }))
  description = "every binary or archive to install: URL, sha256, where it goes and the leading path elements to strip from an archive"
}

variable "images" {
  type        = list(string)
  description = "container images to pre-pull into containerd (ksgen images list)"
}

variable "assets" {
  type = list(object({
    url    = string
    sha256 = string
    path   = string
  }))
  description = "versioned manifests and charts, placed under /opt/ksgen/assets/<path>"
  default     = []
}

variable "allow_unpinned" {
  type        = bool
  description = "accept downloads whose sha256 is empty (development only)"
  default     = false
}

variable "qemu_source_image" {
  type        = string
  description = "cloud image the qemu build starts from (qcow2), e.g. Debian 12 genericcloud"
  default     = "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
}

variable "qemu_source_checksum" {
  type        = string
  description = "checksum of qemu_source_image, like sha512:… or file:URL"
  default     = "file:https://cloud.debian.org/images/cloud/bookworm/latest/SHA512SUMS"
}

variable "aws_region" {
  type    = string
  default = "eu-west-1"
}

variable "aws_source_ami" {
  type        = string
  description = "AMI the amazon-ebs build starts from (Debian 12, Ubuntu 22.04 …)"
  default     = ""
}

variable "ssh_username" {
  type    = string
  default = "debian"
}

locals {
  name = "ksgen-node-${var.kubernetes_version}"
  environment = [
    "KSGEN_BINARIES=${join("\n", [for b in var.binaries : "${b.name} ${b.url} ${b.dest} ${b.strip} ${b.sha256}"])}",
    "KSGEN_IMAGES=${join("\n", var.images)}",
    "KSGEN_ASSETS=${join("\n", [for a in var.assets : "${a.url} ${a.path} ${a.sha256}"])}",
    "KSGEN_ALLOW_UNPINNED=${var.allow_unpinned}",
  ]
}

source "qemu" "node" {
  vm_name          = "${local.name}.qcow2"
  iso_url          = var.qemu_source_image
  iso_checksum     = var.qemu_source_checksum
  disk_image       = true
  format           = "qcow2"
  disk_size        = "20G"
  memory           = 4096
  cpus             = 2
  headless         = true
  accelerator      = "kvm"
  ssh_username     = var.ssh_username
  ssh_timeout      = "20m"
  shutdown_command = "sudo shutdown -P now"
  output_directory = "output/${local.name}"
  cd_label         = "cidata"
  cd_files         = ["${path.root}/cloud-init/meta-data", "${path.root}/cloud-init/user-data"]
}

source "amazon-ebs" "node" {
  ami_name      = "${local.name}-{{timestamp}}"
  instance_type = "t3.large"
  region        = var.aws_region
  source_ami    = var.aws_source_ami
  ssh_username  = var.ssh_username
  tags = {
    "ksgen.io/kubernetes-version" = var.kubernetes_version
  }
}

build {
  sources = ["source.qemu.node", "source.amazon-ebs.node"]

  provisioner "file" {
    source      = "${path.root}/scripts/lib.sh"
    destination = "/tmp/ksgen-lib.sh"
  }

  provisioner "shell" {
    execute_command  = "sudo -E bash '{{.Path}}'"
    environment_vars = local.environment
    scripts = [
      "${path.root}/scripts/install-binaries.sh",
      "${path.root}/scripts/pull-images.sh",
      "${path.root}/scripts/place-assets.sh",
      "${path.root}/scripts/cleanup.sh",
    ]
  }
}
