variable "root" { type = string }

play "local" {
  hosts = "all"

  block "deploy" {
    file "release" {
      path    = "${var.root}/release"
      content = "2\n"
    }
    rescue {
      file "rolled_back" {
        path    = "${var.root}/rolled_back"
        content = "yes\n"
      }
    }
    always {
      command "audit" {
        run          = ["true"]
        changed_when = false
      }
    }
  }
  command "optional" {
    run        = ["false"]
    on_failure = "continue"
  }
  file "after" {
    path    = "${var.root}/after"
    content = "x\n"
    when    = file.release.changed
  }
}
