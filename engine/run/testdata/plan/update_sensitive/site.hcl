variable "root" { type = string }
variable "token" {
  type      = string
  default   = "s3cr3t-t0ken"
  sensitive = true
}
locals { greeting = "hello from ${host.name}" }

play "local" {
  hosts = "all"

  file "motd" {
    path    = "${var.root}/motd"
    content = "${local.greeting}\nrole=${host.vars.role}\n"
  }
  file "token" {
    path    = "${var.root}/token"
    content = "token=${var.token}\n"
    mode    = "0600"
  }
  file "copies" {
    for_each = toset(["a", "b"])
    path     = "${var.root}/copy-${each.key}"
    content  = file.motd.content
  }
  file "skipped" {
    when    = host.vars.role == "replica"
    path    = "${var.root}/never"
    content = ""
  }
}
