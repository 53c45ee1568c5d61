"""The app of the device tests: vendor settings and a fake Whoop and Oura at the transport."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.services.integrations.context import VendorContext
from tests.fixtures import fake_vendor as fv


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return fv.vendor_settings(settings)


@pytest.fixture
def fake() -> fv.FakeVendors:
    return fv.FakeVendors()


@pytest.fixture
def app(
    app_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], fake: fv.FakeVendors
) -> FastAPI:
    return fv.build_app(app_settings, sessionmaker, fake)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for client in fv.app_client(app):
        yield client


@pytest.fixture
def ctx(app: FastAPI) -> VendorContext:
    vendors: VendorContext = app.state.vendors
    return vendors
