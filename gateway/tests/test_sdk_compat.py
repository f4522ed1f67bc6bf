"""The official SDKs, unmodified and pointed at our base URL, against every provider kind."""

from __future__ import annotations

import anthropic
import openai
import pytest

from gateway.tests.conftest import error_code, served_by

PROVIDER_KINDS = ["gpt-primary", "claude-primary", "local-extractive"]


def _expected_text(model: str, question: str) -> str:
    return "local extractive model" if model == "local-extractive" else f"Echo: {question}"


@pytest.mark.parametrize("model", PROVIDER_KINDS)
def test_openai_sdk_completes(gateway, model):
    response = gateway.openai().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hello there"}], max_tokens=200
    )
    assert _expected_text(model, "hello there") in response.choices[0].message.content
    assert response.choices[0].finish_reason == "stop"
    assert response.model == model
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert served_by(response) == model
    assert response.model_extra["x_gateway"]["fallbacks"] == 0


@pytest.mark.parametrize("model", PROVIDER_KINDS)
def test_openai_sdk_streams(gateway, model):
    client = gateway.openai()
    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "stream me"}],
            max_tokens=200,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert _expected_text(model, "stream me") in text
    assert [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ] == ["stop"]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    plain = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "stream me"}], max_tokens=200
    )
    assert text == plain.choices[0].message.content


@pytest.mark.parametrize("model", PROVIDER_KINDS)
def test_anthropic_sdk_completes_and_streams(gateway, model):
    client = gateway.anthropic()
    message = client.messages.create(
        model=model,
        max_tokens=200,
        messages=[{"role": "user", "content": "bonjour"}],
        system="Be brief.",
    )
    assert _expected_text(model, "bonjour") in message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    with client.messages.stream(
        model=model, max_tokens=200, messages=[{"role": "user", "content": "bonjour"}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == message.content[0].text
    assert final.usage.output_tokens == message.usage.output_tokens


def test_openai_tools_pass_through_to_an_anthropic_model(gateway):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    response = gateway.openai().chat.completions.create(
        model="claude-primary",
        messages=[{"role": "user", "content": "please call tool"}],
        tools=tools,
    )
    call = response.choices[0].message.tool_calls[0]
    assert response.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert call.function.arguments.replace(" ", "") == '{"city":"Paris"}'


def test_anthropic_tools_pass_through_to_an_openai_model(gateway, primary):
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]
    message = gateway.anthropic().messages.create(
        model="gpt-primary",
        max_tokens=100,
        tools=tools,
        messages=[{"role": "user", "content": "call tool now"}],
    )
    assert message.stop_reason == "tool_use"
    assert message.content[-1].name == "get_weather"
    assert message.content[-1].input == {"city": "Paris"}
    upstream = primary.requests[-1].body
    assert upstream["tools"][0]["function"]["name"] == "get_weather"  # translated to OpenAI's shape


def test_sdk_exceptions_for_our_errors(gateway):
    bad_openai = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad_openai.chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": "x"}]
        )
    bad_anthropic = anthropic.Anthropic(base_url=gateway.url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad_anthropic.messages.create(
            model="chat-default", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.NotFoundError) as missing:
        gateway.openai().chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "x"}]
        )
    assert error_code(missing.value) == "model_not_found"
    with pytest.raises(anthropic.NotFoundError):
        gateway.anthropic().messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.BadRequestError):
        gateway.openai().chat.completions.create(model="chat-default", messages=[], max_tokens=10)
    with pytest.raises(anthropic.BadRequestError):
        gateway.anthropic().messages.create(
            model="chat-default", max_tokens=0, messages=[{"role": "user", "content": "x"}]
        )


def test_rate_limited_callers_get_the_sdks_rate_limit_error(server_process, gateway):
    url = server_process(API_KEY_LOCKOUT_FAILURES="2")
    for _ in range(2):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{url}/v1", api_key="sk-guess", max_retries=0).models.list()
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=gateway.secret, max_retries=0)
    with pytest.raises(openai.RateLimitError) as limited:
        client.models.list()
    assert int(limited.value.response.headers["Retry-After"]) > 0
    with pytest.raises(anthropic.RateLimitError):
        anthropic.Anthropic(base_url=url, api_key=gateway.secret, max_retries=0).messages.create(
            model="chat-default", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
