"""A local Steam: the Web API and store paths, shapes, quirks and faults, served from seeded data.

Tests, the local stack and the offline demo point the Steam client at this server by base URL
(`STEAM_API_BASE_URL` / `STEAM_STORE_BASE_URL`); no production code imports it. The data is a pure
function of the seed and the clock, so two simulators with the same seed answer the same.
"""
