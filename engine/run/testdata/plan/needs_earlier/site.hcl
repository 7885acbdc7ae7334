variable "root" { type = string }

play "local" {
  hosts = "all"

  file "conf" {
    path    = "${var.root}/app.conf"
    content = "port=8080\n"
  }
  # app.conf does not exist yet: file.conf creates it, so this edit is
  # known only after apply.
  line "debug" {
    path = "${var.root}/app.conf"
    line = "debug=true"
  }
  # Nothing creates this one: an error.
  line "other" {
    path = "${var.root}/other.conf"
    line = "x=1"
  }
}
