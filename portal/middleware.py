from portal.views import healthz


def healthz_middleware(get_response):
    """Answer /healthz before host validation, HTTPS redirects and sessions.

    Orchestrators probe by container IP over plain HTTP; the check reads nothing from
    the request, so nothing in it needs the protections the rest of the stack adds.
    """

    def middleware(request):
        if request.path_info == "/healthz":
            return healthz(request)
        return get_response(request)

    return middleware
