/*
 * Editor parts shared by the Fieldflow nodes. Node-RED serves this file at
 * resources/@fieldflow/nodes/editor.js and loads it (once per node file that names it, before that
 * file's own scripts run), so a node's html can say what it needs instead of copying it.
 */
(function () {
    'use strict';
    if (window.FieldflowEditor) return;
    var UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    var SCOPE = /<div data-ff-device-scope="([^"]*)"><\/div>/;

    function escapeAttr(text) {
        return String(text).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    }

    /** The rows of a node that watches every device, one device, or the devices matching a label selector. */
    function scopeRows(placeholder) {
        return [
            '<div class="form-row">',
            '    <label for="node-input-deviceMode"><i class="fa fa-microchip"></i> Devices</label>',
            '    <select id="node-input-deviceMode" style="width:70%">',
            '        <option value="all">every device</option>',
            '        <option value="id">one device (by id)</option>',
            '        <option value="selector">devices matching labels</option>',
            '    </select>',
            '</div>',
            '<div class="form-row ff-scope-device">',
            '    <label for="node-input-device"><i class="fa fa-id-card-o"></i> Device id</label>',
            '    <input type="text" id="node-input-device">',
            '</div>',
            '<div class="form-row ff-scope-selector">',
            '    <label for="node-input-selector"><i class="fa fa-tags"></i> Selector</label>',
            '    <input type="text" id="node-input-selector" placeholder="' + escapeAttr(placeholder) + '">',
            '</div>'
        ].join('\n');
    }

    /** The platform's error as text: what the admin route answered (`FF_...: detail`). */
    function errorText(xhr) {
        var body = xhr.responseJSON || {};
        return (body.code ? body.code + ': ' : '') + (body.detail || xhr.statusText || 'the request failed');
    }

    /**
     * Fill a select from an admin list route (`{items: [{id, ...}]}`): the empty choice first (`none`, or
     * `empty` when there are no items), then `label(item)` per item. A select keeps a value only once it has
     * the option, so the saved id is added before the list arrives; an id the platform no longer has stays,
     * marked unknown. If the list cannot be read, the saved id stays and the error is shown in `error`.
     */
    function fillSelect(select, url, selected, options) {
        var none = options.none || 'any';
        select.empty().append($('<option>').val(selected).text(selected || none)).val(selected);
        $.getJSON(url).done(function (res) {
            select.empty();
            $('<option value="">').text(res.items.length || !options.empty ? none : options.empty).appendTo(select);
            var found = false;
            res.items.forEach(function (item) {
                found = found || item.id === selected;
                $('<option>').val(item.id).text(options.label(item)).appendTo(select);
            });
            if (selected && !found) $('<option>').val(selected).text('unknown ' + selected).appendTo(select);
            select.val(selected);
        }).fail(function (xhr) {
            $(options.error).text(errorText(xhr));
        });
    }

    /**
     * A button that must be clicked twice within a few seconds (deleting, cancelling and rolling back
     * are not undone). `armed` holds the waiting buttons by `key`, so one stays armed when its list
     * is drawn again.
     */
    function confirmButton(armed, key, label, confirmLabel, action) {
        var button = $('<button type="button" class="red-ui-button red-ui-button-small">').text(armed[key] ? confirmLabel : label);
        button.on('click', function () {
            if (armed[key]) {
                clearTimeout(armed[key]);
                delete armed[key];
                button.text(label);
                action(button);
                return;
            }
            button.text(confirmLabel);
            armed[key] = setTimeout(function () { delete armed[key]; button.text(label); }, 3000);
        });
        return button;
    }

    window.FieldflowEditor = {
        errorText: errorText,
        fillSelect: fillSelect,
        confirmButton: confirmButton,
        deviceScope: {
            /** The node properties: deviceMode (all | id | selector), device, selector, each checked for its mode. */
            defaults: function () {
                return {
                    deviceMode: { value: 'all' },
                    device: { value: '', validate: function (v) { return this.deviceMode !== 'id' || UUID.test(v); } },
                    selector: { value: '', validate: function (v) { return this.deviceMode !== 'selector' || /\S/.test(v); } }
                };
            },
            /** How a node's label names its devices. */
            describe: function (node) {
                return node.deviceMode === 'id' ? node.device.slice(0, 8) : node.deviceMode === 'selector' ? node.selector : 'any device';
            },
            /**
             * Put the device rows into the edit template of `type`, where it has
             * <div data-ff-device-scope="placeholder for the selector"></div>. Call it from the node's own script.
             */
            expandTemplate: function (type) {
                var template = $('script[data-template-name="' + type + '"]');
                var text = template.text();
                var m = SCOPE.exec(text);
                if (m) template.text(text.replace(SCOPE, scopeRows(m[1])));
            },
            /** In oneditprepare: show the device id or the selector row for the chosen mode. */
            wire: function () {
                $('#node-input-deviceMode').on('change', function () {
                    var mode = $(this).val();
                    $('.ff-scope-device').toggle(mode === 'id');
                    $('.ff-scope-selector').toggle(mode === 'selector');
                }).trigger('change');
            }
        }
    };
})();
