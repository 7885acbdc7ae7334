variable "root" { type = string }

variable "enabled" {
  type    = bool
  default = false
}

play "local" {
  hosts = "all"

  command "probe" {
    run          = ["echo", "yes"]
    changed_when = false
  }

  # when is false: the body, the rescue and the always tasks are skipped.
  block "off" {
    when = var.enabled
    tags = ["off"]
    file "off_body" {
      path    = "${var.root}/off_body"
      content = "x\n"
    }
    rescue {
      file "off_rescue" {
        path    = "${var.root}/off_rescue"
        content = "x\n"
      }
    }
    always {
      file "off_always" {
        path    = "${var.root}/off_always"
        content = "x\n"
      }
    }
  }

  # when refers to a task before the block: the block's tasks wait for it.
  block "on" {
    when = command.probe.stdout == "yes"
    tags = ["on"]
    file "on_body" {
      path    = "${var.root}/on_body"
      content = "b\n"
    }
    file "own_false" {
      path    = "${var.root}/own_false"
      content = "x\n"
      when    = var.enabled
    }
    block "inner" {
      when = var.enabled
      file "inner" {
        path    = "${var.root}/inner"
        content = "x\n"
      }
    }
    always {
      file "on_always" {
        path    = "${var.root}/on_always"
        content = "a\n"
      }
    }
  }
}
