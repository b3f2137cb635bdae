"""What Home Assistant's MQTT discovery accepts, per component, for the keys this project publishes: the keys each
schema requires and those it allows (Home Assistant's ``homeassistant/components/mqtt/<component>.py`` schemas and
their common entity schema, as of 2024.1; checked against them with Home Assistant installed, docs/mqtt.md). A
discovery config with a key outside these, or without a required one, is one Home Assistant refuses or ignores."""

COMMON = {"name", "unique_id", "object_id", "device", "availability_topic", "availability", "availability_mode",
          "payload_available", "payload_not_available", "icon", "json_attributes_topic", "json_attributes_template",
          "entity_category", "enabled_by_default", "qos", "encoding", "origin", "entity_picture"}
COMPONENTS = {  # component: (required keys, further allowed keys)
    "sensor": ({"state_topic"}, {"value_template", "unit_of_measurement", "device_class", "state_class",
                                 "force_update", "expire_after", "suggested_display_precision", "options"}),
    "binary_sensor": ({"state_topic"}, {"payload_on", "payload_off", "device_class", "value_template", "off_delay",
                                        "expire_after", "force_update"}),
    "event": ({"state_topic", "event_types"}, {"device_class", "value_template"}),
    "device_tracker": ({"state_topic"}, {"payload_home", "payload_not_home", "payload_reset", "source_type",
                                         "value_template"}),
    "image": ({"image_topic"}, {"content_type", "image_encoding"}),
    "button": ({"command_topic"}, {"command_template", "payload_press", "device_class", "retain"}),
    "text": ({"command_topic"}, {"command_template", "state_topic", "value_template", "min", "max", "mode",
                                 "pattern", "retain"}),
}
DEVICE = {"identifiers", "connections", "name", "manufacturer", "model", "sw_version", "hw_version",
          "suggested_area", "via_device", "configuration_url"}
SENSOR_DEVICE_CLASSES = {"timestamp", "date", "duration"}  # those of them this project may use
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$"  # what a timestamp sensor's state must be


def problems(topic: str, config: dict) -> list[str]:
    """Why Home Assistant would not take ``config`` published at discovery ``topic`` (empty: it would)."""
    component = topic.split("/")[-3]
    if component not in COMPONENTS:
        return [f"{topic}: no component {component!r}"]
    required, allowed = COMPONENTS[component]
    found = [f"{topic}: {key} missing" for key in sorted(required - set(config))]
    found += [f"{topic}: {key} not a key of {component}" for key in sorted(set(config) - required - allowed - COMMON)]
    found += [f"{topic}: device.{key} unknown" for key in sorted(set(config.get("device", {})) - DEVICE)]
    if component == "event" and not (isinstance(config.get("event_types"), list) and config["event_types"]):
        found.append(f"{topic}: event_types must be a non-empty list")
    if component == "sensor" and config.get("device_class", "timestamp") not in SENSOR_DEVICE_CLASSES:
        found.append(f"{topic}: device_class {config['device_class']!r}")
    return found
