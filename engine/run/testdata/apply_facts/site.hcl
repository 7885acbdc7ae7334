variable "root" { type = string }
locals { arch = host.facts.arch }

play "local" {
  hosts = "all"

  file "facts" {
    path    = "${var.root}/facts"
    content = "${local.arch} ${host.facts.kernel}\n"
  }
}
