"""The web page's files: Jinja2 templates and static ES modules (served by ``service.page``)."""
