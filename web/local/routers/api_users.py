"""API: web users and roles (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from appliance.web_services.users import User
from web.local.deps import AdminUser, RowId, ServicesDep
from web.local.models import TokenPublic, UserCreate, UserPublic, UserUpdate

router = APIRouter(prefix="/api/v1", tags=["users"])


def public(u: User) -> UserPublic:
    """A user as the API shows them."""
    return UserPublic(id=u.id, username=u.username, role=u.role.value, enabled=u.enabled, has_token=u.has_token)


@router.get("/users")
async def list_users(_: AdminUser, services: ServicesDep) -> list[UserPublic]:
    """Every user."""
    return [public(u) for u in await services.users.list()]


@router.post("/users", status_code=201)
async def create_user(body: UserCreate, auth: AdminUser, services: ServicesDep) -> UserPublic:
    """Create a user with a role."""
    return public(await services.users.create(auth.actor, body.username, body.password, body.role))


@router.get("/users/{user_id}")
async def get_user(user_id: RowId, _: AdminUser, services: ServicesDep) -> UserPublic:
    """One user."""
    return public(await services.users.get(user_id))


@router.patch("/users/{user_id}")
async def update_user(user_id: RowId, body: UserUpdate, auth: AdminUser, services: ServicesDep) -> UserPublic:
    """Change a user's role, enabled flag or password (their sessions end on a new password)."""
    return public(await services.users.update(auth.actor, user_id, role=body.role, enabled=body.enabled,
                                              password=body.password))


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(user_id: RowId, auth: AdminUser, services: ServicesDep) -> None:
    """Delete a user (never the last admin)."""
    await services.users.delete(auth.actor, user_id)


@router.post("/users/{user_id}/token", status_code=201)
async def issue_user_token(user_id: RowId, auth: AdminUser, services: ServicesDep) -> TokenPublic:
    """A new API bearer token for a user (shown once)."""
    return TokenPublic(token=await services.users.issue_token(auth.actor, user_id))
