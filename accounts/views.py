from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ProfileForm, SignupForm, ThrottledLoginForm, TokenForm
from accounts.models import User
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
        user=user,
        initial={"display_name": user.display_name, "bio": user.bio},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=user, **form.cleaned_data)
        except ChatError as exc:  # a look-alike name taken since the form was checked
            form.add_error(None, exc.detail)
        else:
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile", username=user.username)
    tokens = user.api_tokens.all()
    new_token = request.session.pop("new_token", None)
    return render(
        request,
        "accounts/profile_edit.html",
        {"form": form, "tokens": tokens, "token_form": TokenForm(), "new_token": new_token},
    )


@login_required
def profile(request, username: str):
    shown = get_object_or_404(User, username=username, is_active=True)
    blocked = selectors.has_blocked(blocker=request.user, user=shown)
    online = connections.is_online(shown.username)
    return render(
        request, "accounts/profile.html", {"shown": shown, "blocked": blocked, "online": online}
    )


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
