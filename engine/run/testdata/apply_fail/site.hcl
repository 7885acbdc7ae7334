variable "root" { type = string }

play "local" {
  hosts = "all"

  file "first" {
    path    = "${var.root}/first"
    content = "1\n"
  }
  command "fail" {
    run = ["sh", "-c", "echo oops >&2; exit 3"]
  }
  file "after" {
    path    = "${var.root}/after"
    content = command.fail.stdout
  }
  file "independent" {
    path    = "${var.root}/independent"
    content = "i\n"
    notify  = [handler.h]
  }
  handler "h" {
    file {
      path    = "${var.root}/handler"
      content = "h\n"
    }
  }
}
