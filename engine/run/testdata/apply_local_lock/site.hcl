variable "root" { type = string }

# Several local hosts are one machine: one lock file.
play "once" {
  hosts = "all"

  command "migrate" {
    run      = ["sh", "-c", "echo migrated >\"$0/migrated\"", var.root]
    creates  = "${var.root}/migrated"
    run_once = true
  }

  file "mark" {
    path       = "${var.root}/${host.name}"
    content    = "${host.name}\n"
    depends_on = [command.migrate]
  }
}

play "again" {
  hosts = "all"

  file "second" {
    path    = "${var.root}/${host.name}.second"
    content = "2\n"
  }
}
