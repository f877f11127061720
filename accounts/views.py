from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_POST, require_safe

from accounts import avatars, login_throttle, ratelimit, selectors, services
from accounts.forms import ProfileForm, SignupForm, ThrottledLoginForm, TokenForm
from accounts.models import User
from chatsite.client_address import client_address
from rooms.errors import ChatError
from rooms.realtime import connections


def signup(request):
    if request.user.is_authenticated:
        return redirect("rooms:list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data.get("display_name", ""),
            )
        except ChatError as exc:  # a look-alike signed up since the form was checked
            form.add_error(None, exc.detail)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("rooms:list")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledLoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Log out, and close every socket this session opened, on every server process."""

    def post(self, request, *args, **kwargs):
        session_key = request.session.session_key
        response = super().post(request, *args, **kwargs)
        if session_key:
            connections.close_session_connections(session_key)
        return response


@login_required
def profile_edit(request):
    user = request.user
    form = ProfileForm(
        request.POST or None,
        request.FILES or None,
        user=user,
        initial={"display_name": user.display_name, "bio": user.bio},
    )
    if request.method == "POST" and form.is_valid() and _save_profile(user, form):
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile", username=user.username)
    tokens = user.api_tokens.all()
    new_token = request.session.pop("new_token", None)
    return render(
        request,
        "accounts/profile_edit.html",
        {
            "form": form,
            "tokens": tokens,
            "token_form": TokenForm(),
            "new_token": new_token,
            "avatar": _avatar_context(user),
        },
    )


def _save_profile(user: User, form: ProfileForm) -> bool:
    """The avatar first: a refused image leaves the whole profile as it was."""
    data = form.cleaned_data
    try:
        if data.get("avatar"):
            services.avatar_set(user=user, upload=data["avatar"])
        elif data.get("remove_avatar"):
            services.avatar_remove(user=user)
    except ChatError as exc:
        form.add_error("avatar", exc.detail)
        return False
    try:
        services.profile_update(user=user, display_name=data["display_name"], bio=data["bio"])
    except ChatError as exc:  # a look-alike name taken since the form was checked
        form.add_error(None, exc.detail)
        return False
    return True


def _avatar_context(user: User) -> dict:
    return {
        "url": avatars.url(user),
        "initials": avatars.initials(user),
        "hue": avatars.hue(user.username),
    }


@login_required
def profile(request, username: str):
    shown = get_object_or_404(User, username=username, is_active=True)
    blocked = selectors.has_blocked(blocker=request.user, user=shown)
    online = connections.is_online(shown.username)
    return render(
        request,
        "accounts/profile.html",
        {
            "shown": shown,
            "blocked": blocked,
            "online": online,
            "avatar": _avatar_context(shown),
        },
    )


# A versioned avatar URL (avatars.url) names one image for good.
AVATAR_CACHE_FOREVER = "private, max-age=31536000, immutable"
AVATAR_CACHE_REVALIDATE = "private, no-cache"


@require_safe
def avatar(request, username: str):
    """A user's avatar thumbnail, for whoever may see profiles: signed in by session or
    by API token (the JSON API hands out these URLs). 404 for a user with none: the
    initials are drawn by the page."""
    if not request.user.is_authenticated:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return redirect_to_login(request.get_full_path())
        if services.token_authenticate(secret=secret.strip()) is None:
            return HttpResponse("Invalid token.", status=401, content_type="text/plain")
    shown = User.objects.filter(username=username, is_active=True).only("avatar").first()
    if shown is None or not shown.avatar:
        raise Http404("No avatar.")
    version = avatars.version(shown)
    etag = f'"{version}"'
    response = get_conditional_response(request, etag=etag)
    if response is None:
        try:
            with shown.avatar.open("rb") as stored:
                content = stored.read()
        except OSError:  # the file is gone from storage (a lost volume): no avatar
            raise Http404("No avatar.") from None
        response = HttpResponse(content, content_type=avatars.CONTENT_TYPE)
        response["Content-Disposition"] = 'inline; filename="avatar.png"'
    response["ETag"] = etag
    response["Cache-Control"] = (
        AVATAR_CACHE_FOREVER if request.GET.get("v") == version else AVATAR_CACHE_REVALIDATE
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@login_required
@require_POST
def block_toggle(request, username: str):
    try:
        if request.POST.get("action") == "unblock":
            services.user_unblock(blocker=request.user, username=username)
            messages.success(request, f"Unblocked {username}.")
        else:
            services.user_block(blocker=request.user, username=username)
            messages.success(request, f"Blocked {username}.")
    except ChatError as exc:
        messages.error(request, exc.detail)
    return redirect("accounts:profile", username=username)


@login_required
def user_search(request):
    query = request.GET.get("q", "")[:100]
    page = Paginator(selectors.user_search(query=query), 20).get_page(request.GET.get("page"))
    return render(request, "accounts/search.html", {"query": query, "page": page})


@login_required
@require_POST
def token_create(request):
    form = TokenForm(request.POST)
    if form.is_valid():
        _, secret = services.token_create(user=request.user, name=form.cleaned_data["name"])
        # Shown once, on the next page, then gone.
        request.session["new_token"] = secret
    else:
        messages.error(request, "Give the token a name.")
    return redirect("accounts:profile_edit")


@login_required
@require_POST
def token_revoke(request, token_id: int):
    if services.token_revoke(user=request.user, token_id=token_id):
        messages.success(request, "Token revoked.")
    return redirect("accounts:profile_edit")


# --- Password change and reset: Django's own views, in the site's templates -------------
# (templates/registration/). Both doors that check a password are throttled like the
# log-in: a wrong current password counts as a failed log-in, and reset mails are
# limited per address and per email address (accounts/login_throttle.py).


class PasswordChangeView(auth_views.PasswordChangeView):
    success_url = reverse_lazy("accounts:password_change_done")

    def post(self, request, *args, **kwargs):
        # A stolen session must not become a way to guess the password unthrottled.
        try:
            login_throttle.ensure_allowed(
                username=request.user.get_username(), address=client_address(request)
            )
        except ratelimit.RateLimited as exc:
            messages.error(
                request, f"Too many wrong passwords. Try again in {exc.retry_after} seconds."
            )
            return redirect("accounts:password_change")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        if form.has_error("old_password", "password_incorrect"):
            login_throttle.record_failure(
                username=self.request.user.get_username(), address=client_address(self.request)
            )
        return super().form_invalid(form)


class PasswordResetView(auth_views.PasswordResetView):
    success_url = reverse_lazy("accounts:password_reset_done")
    # The link in the mail names this site's URL (accounts:password_reset_confirm).
    email_template_name = "registration/password_reset_email.txt"

    def form_valid(self, form):
        try:
            login_throttle.record_reset_request(
                email=form.cleaned_data["email"], address=client_address(self.request)
            )
        except ratelimit.RateLimited as exc:
            form.add_error(
                None, f"Too many reset requests. Try again in {exc.retry_after} seconds."
            )
            return self.form_invalid(form)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("accounts:password_reset_complete")
